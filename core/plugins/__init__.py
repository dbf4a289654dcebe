"""The plugin layer: discovery and manifests, hook specifications, contribution types, scaffold and test harness."""
