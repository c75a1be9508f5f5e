"""StarCoder2 generation with attribution (see the generator issue; not built yet)."""
