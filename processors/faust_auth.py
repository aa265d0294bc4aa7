"""The processor's Kafka security, from the same ARB_KAFKA_* settings as every other client (core/kafka.py).

Faust talks to Kafka through aiokafka, not librdkafka, so the settings are translated into Faust's
credentials here. ARB_KAFKA_EXTRA holds librdkafka properties and has no aiokafka equivalent: it does
not reach the worker's own consumer (its signal producer, a librdkafka client, does get it)."""

from __future__ import annotations

import os
import ssl

import faust
from faust.types.auth import CredentialsT

from core.settings import KafkaSettings


def faust_credentials(s: KafkaSettings) -> CredentialsT | None:
    """Faust broker_credentials for s's security protocol; None for PLAINTEXT."""
    protocol = s.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        ca = s.ssl_ca_location or None  # librdkafka takes a CA file or a directory of them; so does this
        context = ssl.create_default_context(capath=ca) if ca and os.path.isdir(ca) else ssl.create_default_context(cafile=ca)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    if not s.sasl_mechanism:
        raise ValueError(f"ARB_KAFKA_SECURITY_PROTOCOL={protocol} needs ARB_KAFKA_SASL_MECHANISM")
    return faust.SASLCredentials(username=s.sasl_username, password=s.sasl_password.reveal(), mechanism=s.sasl_mechanism,
                                 ssl_context=context)
