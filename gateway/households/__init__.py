"""Households: residents bound to units (``5-302``), units to buildings (``building:5``).

Shared by confirmations and polls: both roll answers up per household and building.
"""

from gateway.households.store import HouseholdStore
from gateway.households.units import Unit, building_of, parse_resident, parse_unit

__all__ = ["HouseholdStore", "Unit", "building_of", "parse_resident", "parse_unit"]
