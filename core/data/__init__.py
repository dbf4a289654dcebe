"""The data layer: the twin tables, the store (engine, ingest, queries), twin file loading, users, migrations."""
