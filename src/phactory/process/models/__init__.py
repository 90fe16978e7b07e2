"""Process models."""
