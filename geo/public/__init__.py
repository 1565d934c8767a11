"""The public and other systems: citizen reports, their tracking codes, Open311."""
