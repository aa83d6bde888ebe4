"""The registry: data contracts of the units' systems, consumers, tiers and reference data.

Everything downstream (ingestion, checks, dbt sources, sharing) derives from these objects; this
package is the one place that parses the files under `contracts/`.
"""

from assets.registry.errors import ContractError
from assets.registry.loader import CONTRACTS_DIR, load_contract, load_contracts
from assets.registry.models import Column, Contract, PathValuesDiffer, Tier

__all__ = [
    "CONTRACTS_DIR",
    "Column",
    "Contract",
    "ContractError",
    "PathValuesDiffer",
    "Tier",
    "load_contract",
    "load_contracts",
]
