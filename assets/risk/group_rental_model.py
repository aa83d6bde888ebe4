"""Group-rental scoring: an unsupervised anomaly score, and where inspections have labelled
flats, a supervised model on top of it, calibrated to a probability; per flat the reasons an
inspector can check on the spot.

Every feature is one-sided ("how far above what the register and the peers explain"): a flat
that uses less than its peers (an empty flat) is not suspicious, so shortfalls count as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from assets.risk.outputs import SCORES_SCHEMA

SEED = 20191  # fixed: the same lake gives the same scores
MIN_LABELS_PER_CLASS = 5  # fewer confirmed or cleared flats: unsupervised only
POSITIVE, NEGATIVE = "confirmed", "not_confirmed"


@dataclass(frozen=True)
class Feature:
    """A model feature: how it is computed from the feature table, and how an inspector reads it."""

    name: str
    reason: str  # Chinese text, formatted with the flat's feature row


def log_above_one(ratio: pd.Series) -> pd.Series:
    """log(ratio) where the ratio exceeds 1, else 0; missing data gives no evidence."""
    return np.log(ratio.where(ratio > 1)).fillna(0.0)


def log_excess(frame: pd.DataFrame, measure: str) -> pd.Series:
    """log(measure / peer median), shortfalls as 0."""
    return log_above_one(
        frame[measure] / frame[f"{measure}_peer"].where(frame[f"{measure}_peer"] > 0)
    )


FEATURES = [
    Feature("power_vs_peers", "人均用电为同类房屋中位数的 {power_ratio:.1f} 倍"),
    Feature("water_vs_peers", "人均用水为同类房屋中位数的 {water_ratio:.1f} 倍"),
    Feature("gas_vs_peers", "人均用气为同类房屋中位数的 {gas_ratio:.1f} 倍"),
    Feature("night_share_excess", "夜间(0-6时)用电占 {night_share:.0%}，同类房屋 {night_peer:.0%}"),
    Feature("weekend_excess", "周末用电为工作日的 {weekend_ratio:.1f} 倍"),
    Feature("growth", "用电较窗口前半段增长 {growth_pct:.0%}"),
    Feature("cards_over_register", "门禁记录 {distinct_cards} 张不同卡，登记 {registered} 人"),
    Feature("entries_vs_peers", "人均门禁进入为同类房屋的 {entries_ratio:.1f} 倍"),
    Feature("deliveries_vs_peers", "人均外卖订单为同类房屋的 {deliveries_ratio:.1f} 倍"),
    Feature("complaints", "12345 群租投诉 {complaints} 次"),
]
FEATURE_NAMES = [f.name for f in FEATURES]


def feature_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs, one row per flat, from the feature table."""
    return pd.DataFrame(
        {
            "power_vs_peers": log_excess(frame, "power_pp"),
            "water_vs_peers": log_excess(frame, "water_pp"),
            "gas_vs_peers": log_excess(frame, "gas_pp"),
            "night_share_excess": (frame["night_share"] - frame["night_share_peer"])
            .clip(lower=0)
            .fillna(0.0),
            "weekend_excess": log_above_one(frame["weekend_ratio"]),
            "growth": log_above_one(frame["growth"]),
            "cards_over_register": (frame["distinct_cards"] - frame["registered"]).clip(lower=0),
            "entries_vs_peers": log_excess(frame, "entries_pp"),
            "deliveries_vs_peers": log_excess(frame, "deliveries_pp"),
            "complaints": frame["complaints"].astype(float),
        },
        index=frame.index,
    ).astype(float)


def reason_values(frame: pd.DataFrame) -> pd.DataFrame:
    """The numbers each reason quotes."""

    def ratio(measure: str) -> pd.Series:
        return (frame[measure] / frame[f"{measure}_peer"]).fillna(0.0)

    return pd.DataFrame(
        {
            "power_ratio": ratio("power_pp"),
            "water_ratio": ratio("water_pp"),
            "gas_ratio": ratio("gas_pp"),
            "night_share": frame["night_share"].fillna(0.0),
            "night_peer": frame["night_share_peer"].fillna(0.0),
            "weekend_ratio": frame["weekend_ratio"].fillna(1.0),
            "growth_pct": (frame["growth"] - 1).fillna(0.0),
            "distinct_cards": frame["distinct_cards"],
            "registered": frame["registered"],
            "entries_ratio": ratio("entries_pp"),
            "deliveries_ratio": ratio("deliveries_pp"),
            "complaints": frame["complaints"],
        }
    )


@dataclass
class FittedModel:
    """What was fitted, and how well it did on the labelled flats."""

    mode: str  # "supervised" or "unsupervised"
    anomaly: IsolationForest
    scale: np.ndarray  # per feature: what counts as one unit of evidence in the reasons
    classifier: CalibratedClassifierCV | None = None
    explainer: Pipeline | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def labels_of(frame: pd.DataFrame) -> pd.Series:
    """1 confirmed, 0 cleared, NaN never inspected (or no access)."""
    return frame["last_outcome"].map({POSITIVE: 1.0, NEGATIVE: 0.0})


def fit(frame: pd.DataFrame) -> FittedModel:
    """Fit the anomaly model on every flat; the supervised model where labels allow."""
    x = feature_matrix(frame)
    anomaly = IsolationForest(
        n_estimators=100, max_samples=min(4096, len(x)), random_state=SEED, n_jobs=-1
    ).fit(x)
    scale = np.maximum(x.quantile(0.99).to_numpy(), 1e-6)
    model = FittedModel("unsupervised", anomaly, scale)
    y = labels_of(frame)
    known = y.notna()
    counts = y[known].value_counts()
    if len(counts) < 2 or counts.min() < MIN_LABELS_PER_CLASS:
        return model
    xs = x.assign(anomaly=-anomaly.score_samples(x))
    # Metrics from held-out folds; inside each, calibration folds of its own (3, so that a fold
    # of a small label set still has a few of each class).
    outer = StratifiedKFold(n_splits=min(5, int(counts.min())), shuffle=True, random_state=SEED)
    inner = StratifiedKFold(n_splits=3, shuffle=True, random_state=SEED)
    base = make_pipeline(
        StandardScaler(), LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000)
    )
    classifier = CalibratedClassifierCV(base, method="sigmoid", cv=inner)
    held_out = cross_val_predict(classifier, xs[known], y[known], cv=outer, method="predict_proba")
    model.mode = "supervised"
    model.classifier = classifier.fit(xs[known], y[known])
    model.explainer = base.fit(xs[known], y[known])
    model.metrics = {
        "labelled_flats": int(known.sum()),
        "confirmed": int(counts.get(1.0, 0)),
        "cv_roc_auc": float(roc_auc_score(y[known], held_out[:, 1])),
        "cv_average_precision": float(average_precision_score(y[known], held_out[:, 1])),
        "cv_brier": float(brier_score_loss(y[known], held_out[:, 1])),
    }
    return model


def evidence_weights(model: FittedModel) -> np.ndarray:
    """How much each feature counts in the reasons: the supervised model's positive weights
    where there is one, else every feature alike."""
    if model.explainer is None:
        return np.ones(len(FEATURES))
    coef = model.explainer[-1].coef_[0][: len(FEATURES)]
    return np.clip(coef / model.explainer[0].scale_[: len(FEATURES)], 0, None) * model.scale


def top_reasons(frame: pd.DataFrame, x: pd.DataFrame, model: FittedModel, n: int = 3) -> list:
    """Per flat, the codes and Chinese texts of its `n` strongest pieces of evidence."""
    strength = x.to_numpy() / model.scale * evidence_weights(model)
    order = np.argsort(-strength, axis=1)[:, :n]
    values = reason_values(frame).to_dict("records")
    codes, texts = [], []
    for row, picks in enumerate(order):
        chosen = [i for i in picks if strength[row, i] > 0]
        codes.append([FEATURES[i].name for i in chosen])
        texts.append([FEATURES[i].reason.format(**values[row]) for i in chosen])
    return [codes, texts]


def score(frame: pd.DataFrame, model: FittedModel) -> pd.DataFrame:
    """Score, probability (supervised only), rank and reasons of every flat."""
    x = feature_matrix(frame)
    anomaly = -model.anomaly.score_samples(x)
    if model.classifier is not None:
        probability = model.classifier.predict_proba(x.assign(anomaly=anomaly))[:, 1]
        value = probability
    else:
        probability = np.full(len(x), np.nan)
        value = anomaly
    codes, texts = top_reasons(frame, x, model)
    out = frame[["flat_id", "street_code", "committee_code", "grid_cell"]].copy()
    out["score"] = value
    out["probability"] = probability
    out["anomaly_score"] = anomaly
    out["rank"] = pd.Series(value).rank(ascending=False, method="first").astype("int64").values
    out["reason_codes"] = codes
    out["reasons"] = texts
    out["last_inspection_outcome"] = frame["last_outcome"]
    return out.sort_values("rank", kind="stable")


def as_arrow(scores: pd.DataFrame) -> pa.Table:
    """Scores as Arrow with explicit list types (pandas alone would guess them per batch)."""
    return pa.Table.from_pandas(scores, schema=SCORES_SCHEMA, preserve_index=False)
