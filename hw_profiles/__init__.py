"""Hardware profiles as data (TOML) plus their typed, validated loader."""
from .profile import Cited, HardwareProfile, ProfileError, available_profiles, load_profile

__all__ = ["Cited", "HardwareProfile", "ProfileError", "available_profiles", "load_profile"]
