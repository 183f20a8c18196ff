"""Host-side harness for leanmqtt: brokers, the unix-port runner, fault proxy, subscriber."""
