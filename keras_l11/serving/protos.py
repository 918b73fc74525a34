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
    defs = json_format.MessageToDict(signature_def_map(signature_defs), preserving_proto_field_name=True)
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"@type": "type.googleapis.com/tensorflow.serving.SignatureDefMap", **defs}},
    }


def metadata_proto(name, version, signature_defs):
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = name
    response.model_spec.version.value = version
    response.metadata["signature_def"].Pack(signature_def_map(signature_defs))
    return response
