"""A reader for the small text-format protos TF Serving takes whose message
types `tensorflow-serving-api` does not ship (BatchingParameters,
MonitoringConfig, SSLConfig). It accepts what TF Serving's own parser accepts for them:
nested messages `name { ... }`, scalar fields `name: value` with numbers,
booleans and quoted strings, comments `#`, optional commas/semicolons.
"""

import re

_TOKEN = re.compile(
    r'\s*(?:(#[^\n]*)|([A-Za-z_][A-Za-z0-9_.]*)|("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')'
    r"|([-+]?[0-9][0-9.eExX+-]*)|([{}:;,<>\[\]]))"
)


class TextProtoError(ValueError):
    pass


def _tokens(text):
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            return
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise TextProtoError(f"unexpected character {text[pos:].strip()[:1]!r} at offset {pos}")
        pos = m.end()
        comment, ident, string, number, punct = m.groups()
        if comment:
            continue
        if ident is not None:
            yield ("ident", ident)
        elif string is not None:
            yield ("value", bytes(string[1:-1], "utf-8").decode("unicode_escape"))
        elif number is not None:
            yield ("value", float(number) if any(c in number for c in ".eE") else int(number, 0))
        else:
            yield ("punct", punct)


def parse(text, schema):
    """Parses `text` into a dict, checked against `schema`.

    `schema` maps field names to a type (`int`, `float`, `bool`, `str`) or to a
    nested schema dict. Unknown fields are an error, as in protobuf.
    """
    tokens = list(_tokens(text))
    pos = 0

    def message(fields, closing):
        nonlocal pos
        out = {}
        while pos < len(tokens):
            kind, value = tokens[pos]
            if kind == "punct" and value in (",", ";"):
                pos += 1
                continue
            if kind == "punct" and value == closing:
                pos += 1
                return out
            if kind != "ident":
                raise TextProtoError(f"expected a field name, got {value!r}")
            if value not in fields:
                raise TextProtoError(f"unknown field {value!r} (expected one of {sorted(fields)})")
            name, ftype = value, fields[value]
            pos += 1
            if pos < len(tokens) and tokens[pos] == ("punct", ":"):
                pos += 1
            if pos >= len(tokens):
                raise TextProtoError(f"missing value for {name!r}")
            kind, value = tokens[pos]
            if isinstance(ftype, dict):
                if (kind, value) not in (("punct", "{"), ("punct", "<")):
                    raise TextProtoError(f"expected '{{' after {name!r}")
                pos += 1
                out[name] = message(ftype, "}" if value == "{" else ">")
                continue
            pos += 1
            if ftype is bool:
                if value not in ("true", "false", 1, 0):
                    raise TextProtoError(f"{name!r} must be true or false, got {value!r}")
                out[name] = value in ("true", 1)
            elif ftype is str:
                if kind != "value" or not isinstance(value, str):
                    raise TextProtoError(f"{name!r} must be a quoted string")
                while pos < len(tokens) and tokens[pos][0] == "value" and isinstance(tokens[pos][1], str):
                    value += tokens[pos][1]  # adjacent strings are one string, as in protobuf
                    pos += 1
                out[name] = value
            else:
                if kind != "value" or isinstance(value, str):
                    raise TextProtoError(f"{name!r} must be a number, got {value!r}")
                if ftype is int and not float(value).is_integer():
                    raise TextProtoError(f"{name!r} must be an integer, got {value!r}")
                value = ftype(value)
                if name in out:  # a repeated scalar: a list
                    out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
                else:
                    out[name] = value
        if closing is not None:
            raise TextProtoError("unbalanced braces: missing '}'")
        return out

    return message(schema, None)


def _wrapped(kind):
    return {"value": kind}


BATCHING_SCHEMA = {
    "max_batch_size": _wrapped(int),
    "batch_timeout_micros": _wrapped(int),
    "max_enqueued_batches": _wrapped(int),
    "num_batch_threads": _wrapped(int),
    "thread_pool_name": _wrapped(str),
    "allowed_batch_sizes": int,
    "pad_variable_length_inputs": bool,
    "enable_large_batch_splitting": _wrapped(bool),
    "max_execution_batch_size": _wrapped(int),
}

SSL_SCHEMA = {"server_key": str, "server_cert": str, "custom_ca": str, "client_verify": bool}

MONITORING_SCHEMA = {"prometheus_config": {"enable": bool, "path": str}}
