"""The organisation tree: units, their kinds, and the operations that keep paths consistent."""
