"""The seed's stdio bridge: ``python -m plugins.ble_provisioning.bridge``.

Newline-delimited JSON on stdin/stdout (see ``protocol.py``), over the same
``BleTransport`` the integration uses. The integration can run its BLE work in this
subprocess (``isolation: true``) through ``client.BridgeTransport``.
"""
