"""Folium map builders: plain functions that return a ``folium.Map``."""
