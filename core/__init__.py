"""twinboard host: plugin manager, twin store, dashboards and the big screen."""

__version__ = "0.1.0"
#: The plugin API version this host implements; manifests declare a range of it.
PLUGIN_API_VERSION = "1.1"  # what each minor version added: docs/plugins.md, "API versions"
