"""Model status and metadata as TF Serving answers them (REST JSON and protos)."""

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from keras_l11.serving.errors import ERROR_CODE_NAMES
from keras_l11.serving.manager import STATE_NUMBERS


def status_json(rows):
    return {
        "model_version_status": [
            {
                "version": str(version),
                "state": state,
                "status": {"error_code": ERROR_CODE_NAMES.get(code, code.name), "error_message": message},
            }
            for version, state, code, message in rows
        ]
    }


def status_proto(rows):
    response = get_model_status_pb2.GetModelStatusResponse()
    for version, state, code, message in rows:
        entry = response.model_version_status.add(version=version, state=STATE_NUMBERS[state])
        entry.status.error_code = code.value[0]
        entry.status.error_message = message
    return response


def signature_def_map(signature_defs):
    result = get_model_metadata_pb2.SignatureDefMap()
    for name, signature_def in signature_defs.items():
        result.signature_def[name].CopyFrom(signature_def)
    return result


def metadata_json(name, version, signature_defs):
    """The REST metadata answer as TF Serving builds it (http_rest_api_util.cc, ToJsonString of a
    GetModelMetadataResponse): the model spec and the unpacked SignatureDefMap, each printed with
    proto field names and every field without presence (so `"name": ""`, `"unknown_rank": false`,
    `"defaults": {}` appear), and no `@type`."""
    response = metadata_proto(name, version, signature_defs)
    defs = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(defs)
    options = {"always_print_fields_with_no_presence": True, "preserving_proto_field_name": True}
    return {
        "model_spec": json_format.MessageToDict(response.model_spec, **options),
        "metadata": {"signature_def": json_format.MessageToDict(defs, **options)},
    }


def metadata_proto(name, version, signature_defs):
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = name
    response.model_spec.version.value = version
    response.metadata["signature_def"].Pack(signature_def_map(signature_defs))
    return response
