# Copy this file to settings.py and fill it in. settings.py is ignored by git: it holds
# your secrets. Anything in config.py can be set here.
WIFI_SSID = "your-network"
WIFI_PASSWORD = "your-wifi-password"
BROKER = "192.168.1.10"  # your MQTT broker
PORT = 1883
# USER = "sensor"
# PASSWORD = "secret"
# PREFIX = "home"
# INTERVAL_MS = 10000
