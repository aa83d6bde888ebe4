"""Made-up people and vehicles: names, resident ID numbers with check digits, phones, plates."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红玉兰文辉鹏飞晨宇欣怡浩然梓涵子轩"
)
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"
# Plate letters: province 沪, issuing letter, then 5 characters (6 for new-energy plates).
PLATE_LETTERS = list("ABCDEFGHJKLMN")
PLATE_BODY = list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
MAKES = [
    "大众",
    "丰田",
    "本田",
    "别克",
    "比亚迪",
    "特斯拉",
    "宝马",
    "奔驰",
    "日产",
    "吉利",
    "蔚来",
    "五菱",
]
COLOURS = ["白", "黑", "银", "灰", "红", "蓝"]


def names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Chinese names of two or three characters."""
    s = rng.choice(SURNAMES, n)
    g1 = rng.choice(GIVEN, n)
    g2 = np.where(rng.random(n) < 0.6, rng.choice(GIVEN, n), "")
    return np.char.add(np.char.add(s, g1), g2)


def id_check_digit(first17: str) -> str:
    """GB 11643 check character of an 18-character resident ID number."""
    total = sum(int(ch) * w for ch, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def id_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """Resident ID numbers registered in Pudong (310115), valid check digits."""
    born = rng.integers(0, 80 * 365, n)
    seq = rng.integers(0, 1000, n)
    out = []
    for days, s in zip(born.tolist(), seq.tolist(), strict=True):
        d = date(1940, 1, 1) + timedelta(days=days)
        first17 = f"310115{d:%Y%m%d}{s:03d}"
        out.append(first17 + id_check_digit(first17))
    return out


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """11-digit mainland mobile numbers."""
    prefix = rng.choice(["13", "15", "17", "18", "19"], n)
    rest = [f"{r:09d}" for r in rng.integers(0, 10**9, n).tolist()]
    return np.char.add(prefix, np.array(rest, dtype="U9"))


def plates(rng: np.random.Generator, n: int) -> np.ndarray:
    """Distinct Shanghai plates; about one in five is a 6-character new-energy plate."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        k = n - len(out)
        letter = rng.choice(PLATE_LETTERS, k)
        body = rng.choice(PLATE_BODY, (k, 5))
        new_energy = rng.random(k) < 0.2
        digits = rng.integers(0, 10, (k, 5)).astype(str)
        for i in range(k):
            if new_energy[i]:
                p = "沪" + letter[i] + rng.choice(["D", "F"]) + "".join(digits[i])
            else:
                p = "沪" + letter[i] + "".join(body[i])
            if p not in seen:
                seen.add(p)
                out.append(p)
    return np.array(out)


OCR_CONFUSIONS = {
    "0": "DQ",
    "D": "0Q",
    "Q": "0D",
    "8": "B",
    "B": "8",
    "2": "Z",
    "Z": "2",
    "5": "S",
    "S": "5",
    "1": "I",
    "I": "1",
}


def misread(rng: np.random.Generator, plate: str) -> str:
    """The plate as OCR might misread it: one confusable character swapped."""
    spots = [i for i, ch in enumerate(plate) if i >= 2 and ch in OCR_CONFUSIONS]
    if not spots:
        return plate
    i = spots[rng.integers(len(spots))]
    options = OCR_CONFUSIONS[plate[i]]
    return plate[:i] + options[rng.integers(len(options))] + plate[i + 1 :]
