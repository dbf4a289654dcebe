"""The web layer: the Dash app, screens and their callbacks, admin pages, sign-in, and the production server."""
