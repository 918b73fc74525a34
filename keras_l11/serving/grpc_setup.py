"""How the gRPC server is built, as TF Serving's server.cc builds it: message limits,
`--grpc_channel_arguments`, credentials (`--ssl_config_file`, `--use_alts_credentials`)
and the health service."""

import grpc

from keras_l11.serving.errors import invalid

INT32_MAX = (1 << 31) - 1


def grpc_channel_arguments(text):
    """`--grpc_channel_arguments` as gRPC server options: "key=value,...", a value
    that parses as an int32 passed as an integer, any other as a string
    (server.cc, parseGrpcChannelArgs and BuildAndStart)."""
    options = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise invalid(f"--grpc_channel_arguments: {item!r} is not key=value")
        try:
            number = int(value)
            options.append((key, number if -(1 << 31) <= number <= INT32_MAX else value))
        except ValueError:
            options.append((key, value))
    return options


def add_health_service(server):
    """grpc.health.v1.Health, as TF Serving's --enable_grpc_healthcheck_service sets it:
    "ModelService" and "PredictionService" (and the server, "") SERVING."""
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    servicer = health.HealthServicer()
    for service in ("", "ModelService", "PredictionService"):
        servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)


def grpc_credentials(options):
    """server.cc, BuildServerCredentials: ALTS, else TLS from --ssl_config_file (client
    certificates required and checked against custom_ca when client_verify), else None
    (plain)."""
    if options.use_alts_credentials:
        return grpc.alts_server_credentials()
    if not options.ssl_config_file:
        return None
    from keras_l11.serving.textproto import SSL_SCHEMA, TextProtoError, parse

    with open(options.ssl_config_file) as f:
        try:
            ssl = parse(f.read(), SSL_SCHEMA)
        except TextProtoError as err:
            raise invalid(f"Error parsing text-format tensorflow.serving.SSLConfig: {err}") from None
    if not ssl.get("server_key") or not ssl.get("server_cert"):
        raise invalid(f"{options.ssl_config_file}: an SSLConfig needs server_key and server_cert")
    return grpc.ssl_server_credentials(
        [(ssl["server_key"].encode(), ssl["server_cert"].encode())],
        root_certificates=ssl["custom_ca"].encode() if ssl.get("custom_ca") else None,
        require_client_auth=bool(ssl.get("client_verify")),
    )
