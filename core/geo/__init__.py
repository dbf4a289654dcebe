"""Geography of the district: the offline base map and small geodesy helpers.

``core.geo.basemap`` loads the bundled base-map data under
``twin_models/basemap/`` (built by ``scripts/build_basemap.py``): the land and
sea of the Jiaojiang district and its surroundings, the district boundary, the
neighbouring districts and the town/street labels, simplified per zoom level.

``core.geo.projection`` holds a local equal-area projection (no pyproj needed
at run time) for areas and distances in metres.
"""
