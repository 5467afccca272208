"""aegis-2fa: two-factor authentication for AegisRunner, as a Chalice application.

Layers point downwards only: rules (no I/O) <- services <- adapters, wired in
`chalicelib.wiring`. Importing this package creates no AWS client.
"""
