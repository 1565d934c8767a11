"""Optional polygon layers that an import replaces whole: blocks and land use."""
