"""A user's own network stored in a model directory so that loading it runs no pickle and no code of
the file's choosing (docs/python-api.md, "How a network is stored").

What is stored, all inside weights.safetensors (safetensors: a JSON header and raw tensor bytes):
- ``net.<name>``: every parameter, buffer and tensor constant of the network;
- ``network.graph``: uint8, the UTF-8 bytes of the network's graph as `torch.export` serialises it
  (its JSON schema), exported for one image of the input shape, with every node's metadata (stack
  traces, module paths) stripped.

`torch.export.save` / `torch.export.load` are not used: they store the weights with `torch.save`
and load them with `torch.load` (pickle). Here the weights come from safetensors and the graph from
JSON, and before the graph reaches torch's deserialiser `check_graph` allows only plain data: nodes
that call ATen operators (`torch.ops.aten.*`) or `_operator.getitem`, identifier names, concrete
sizes (no symbolic expression, which torch parses with sympy), no guard code, no custom objects or
sub-graphs. A file that breaks any rule is refused before torch sees it.

The network's input: images uint8 (N, H, W[, C]) -> float32 (N, C, H, W) in [0, 1] (`to_input`),
then the transform when it is a torch.nn.Module (exported with the network). Its output's sign is
the code: a value > 0 is bit 1.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np

from hashviz.errors import HashvizError

GRAPH_TENSOR = "network.graph"
PREFIX = "net."
FORMAT = "torch.export graph JSON + safetensors"
MAX_GRAPH_BYTES = 64 * 2**20
_OPERATOR = re.compile(r"torch\.ops\.aten\.[a-z0-9_]+\.[A-Za-z0-9_]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
_ARG_KINDS = {"as_none", "as_tensor", "as_tensors", "as_optional_tensor", "as_optional_tensors", "as_int",
              "as_ints", "as_float", "as_floats", "as_string", "as_strings", "as_bool", "as_bools",
              "as_scalar_type", "as_memory_format", "as_layout", "as_device"}
_EMPTY = ("range_constraints", "guards_code")
_EMPTY_GRAPH = ("sym_int_values", "sym_bool_values", "sym_float_values", "custom_obj_values")
_FILE_ARGUMENTS = {"filename", "file", "path"}

__all__ = ["FORMAT", "GRAPH_TENSOR", "is_network_config", "to_input", "device_of", "network_tensors", "check_graph",
           "NetworkEncoder", "load_network_encoder"]


def is_network_config(config: dict) -> bool:
    return isinstance(config.get("network"), dict)


def to_input(images) -> "torch.Tensor":
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]; float arrays are taken
    as already in [0, 1]."""
    import torch
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[:, :, :, None]
    if array.ndim != 4:
        raise HashvizError(f"images must be (N, H, W) or (N, H, W, C), got shape {array.shape}")
    array = np.ascontiguousarray(array) if array.flags.writeable else np.array(array)   # torch wants writable memory
    tensor = torch.from_numpy(array).permute(0, 3, 1, 2)
    return tensor.float().div_(255.0) if array.dtype == np.uint8 else tensor.float()


def device_of(network) -> "torch.device":
    """Where a network's weights are, so its inputs go there: a torch module's first parameter, or
    that of `.net` for a wrapper (a network with a plain-function transform); else the CPU."""
    import torch
    module = network if isinstance(network, torch.nn.Module) else getattr(network, "net", None)
    first = next(module.parameters(), None) if isinstance(module, torch.nn.Module) else None
    return first.device if first is not None else torch.device("cpu")


# ---------------------------------------------------------------- saving

def network_tensors(net, input_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The tensors to store in weights.safetensors for `net` (a torch.nn.Module taking float32
    (1, *input_shape)): its weights as net.<name> and its checked graph as network.graph."""
    import torch
    from torch._export.serde.serialize import serialize
    example = torch.zeros((1, *input_shape), dtype=torch.float32)
    try:
        with torch.no_grad():
            program = torch.export.export(copy.deepcopy(net).cpu().eval(), (example,))   # stored for the CPU
        artifact = serialize(program, serialize_state_dict=False, serialize_constants=False,
                             serialize_example_inputs=False)
    except Exception as exc:  # noqa: BLE001 - torch.export refuses many things; say which, in one line
        raise HashvizError(f"torch.export cannot export the network to store it ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200]}); Model.save stores networks torch.export can trace") from None
    graph = _strip_metadata(json.loads(artifact.exported_program))
    check_graph(graph)
    tensors = {**program.state_dict, **program.constants}
    not_tensors = sorted(k for k, v in tensors.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise HashvizError(f"the network holds non-tensor constants ({', '.join(not_tensors[:3])}); only tensors are stored")
    out = {PREFIX + name: t.detach().cpu().contiguous().numpy() for name, t in tensors.items()}
    out[GRAPH_TENSOR] = np.frombuffer(json.dumps(graph).encode("utf-8"), dtype=np.uint8).copy()
    return out


def _strip_metadata(graph: dict) -> dict:
    """Node metadata (stack traces with the user's file paths, module paths) is not needed to run."""
    for node in graph["graph_module"]["graph"]["nodes"]:
        node["metadata"] = {}
    graph["graph_module"]["metadata"] = {}
    return graph


# ---------------------------------------------------------------- checking

def check_graph(graph) -> None:
    """HashvizError unless `graph` (the parsed JSON) is plain data that can only call ATen operators;
    see the module docstring."""
    if not isinstance(graph, dict) or not isinstance(graph.get("graph_module"), dict):
        raise _refused("it is not a torch.export graph")
    for key in _EMPTY:
        if graph.get(key):
            raise _refused(f"it holds {key} (code or symbolic expressions)")
    body = graph["graph_module"].get("graph")
    if not isinstance(body, dict) or not isinstance(body.get("nodes"), list):
        raise _refused("it has no node list")
    for key in _EMPTY_GRAPH:
        if body.get(key):
            raise _refused(f"it holds {key}")
    _walk(graph)
    for node in body["nodes"]:
        _check_node(node)


def _walk(value, key: str | None = None) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise _refused("a key is not a string")
            if k.startswith("as_") and k not in _ARG_KINDS:
                raise _refused(f"an argument of kind {k} (only tensors and plain values are allowed)")
            if k in ("expr_str", "custom_obj"):
                raise _refused(f"it holds {k}")
            _walk(v, k)
    elif isinstance(value, list):
        for v in value:
            _walk(v, key)
    elif isinstance(value, str):
        if key == "name" and not _IDENTIFIER.fullmatch(value):
            raise _refused(f"the name {value[:60]!r} is not an identifier")
        if key in ("parameter_name", "buffer_name", "tensor_constant_name", "fqn") and value and not _DOTTED.fullmatch(value):
            raise _refused(f"the attribute path {value[:60]!r} is not a dotted name")


def _check_node(node) -> None:
    if not isinstance(node, dict):
        raise _refused("a node is not an object")
    target = node.get("target")
    if target != "_operator.getitem" and not (isinstance(target, str) and _OPERATOR.fullmatch(target)):
        raise _refused(f"a node calls {str(target)[:80]!r} (only ATen operators are allowed)")
    if node.get("metadata"):
        raise _refused("a node carries metadata")
    if target != "_operator.getitem":
        import torch
        packet, _, overload = target[len("torch.ops.aten."):].rpartition(".")
        op = getattr(getattr(torch.ops.aten, packet, None), overload, None)
        if op is None:
            raise _refused(f"{target} is not an ATen operator of this torch")
        if any(a.name in _FILE_ARGUMENTS for a in op._schema.arguments):
            raise _refused(f"{target} reads or writes files")


def _refused(why: str) -> HashvizError:
    return HashvizError(f"the stored network was refused: {why}; hashviz loads only graphs of ATen operators "
                        "saved by Model.save")


# ---------------------------------------------------------------- loading

class NetworkEncoder:
    """A network as an encoder: `outputs(images)` float32 (N, d) and `codes_from_outputs` packed
    uint8 (N, d/8), the interface hashviz.retrieval.query_code uses for uploads. `module` runs
    float32 (B, C, H, W) inputs: the user's own module in-process, or the stored graph (one image
    at a time: it was exported for one)."""

    def __init__(self, module, one_at_a_time: bool = False):
        self.module = module
        self.one_at_a_time = one_at_a_time

    def outputs(self, images) -> np.ndarray:
        import torch
        batch = to_input(images)
        batch = batch.to(device_of(self.module))
        with torch.no_grad():
            parts = [self.module(batch[i:i + 1]) for i in range(len(batch))] if self.one_at_a_time \
                else [self.module(batch)]
        return torch.cat([p.reshape(len(p), -1) for p in parts]).float().cpu().numpy()

    @staticmethod
    def codes_from_outputs(outputs: np.ndarray) -> np.ndarray:
        return np.packbits(np.asarray(outputs) > 0, axis=1)   # any width: a 12-bit network pads as its import did


def load_network_encoder(path: Path, weights: dict[str, np.ndarray]) -> NetworkEncoder:
    """The stored network of the model directory at `path` from its weights.safetensors tensors
    (read by safetensors), its graph checked by `check_graph` before torch deserialises it."""
    import torch
    from torch._export.serde.serialize import SerializedArtifact, deserialize
    name = Path(path).name
    raw = weights.get(GRAPH_TENSOR)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > MAX_GRAPH_BYTES:
        raise HashvizError(f"{name}: weights.safetensors holds no network graph ({GRAPH_TENSOR}, uint8 bytes)")
    try:
        graph = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HashvizError(f"{name}: the stored network graph is not valid JSON") from None
    check_graph(graph)
    tensors = {k[len(PREFIX):]: torch.from_numpy(v.copy()) for k, v in weights.items() if k.startswith(PREFIX)}
    expected = _stored_tensor_names(graph)
    if set(tensors) != expected:
        raise HashvizError(f"{name}: the stored network's tensors do not match its graph "
                           f"(missing {sorted(expected - set(tensors))[:3]}, unexpected {sorted(set(tensors) - expected)[:3]})")
    if any(t.is_floating_point() and not torch.isfinite(t).all() for t in tensors.values()):
        raise HashvizError(f"{name}: the stored network holds NaN or infinite weights")
    constants = {k: tensors.pop(k) for k in _constant_names(graph)}
    parameters = _parameter_names(graph)
    tensors = {k: torch.nn.Parameter(t, requires_grad=False) if k in parameters else t for k, t in tensors.items()}
    try:
        program = deserialize(SerializedArtifact(json.dumps(graph).encode("utf-8"), tensors, constants, b""))
        return NetworkEncoder(program.module(), one_at_a_time=True)
    except Exception as exc:  # noqa: BLE001 - a malformed graph must be one clear line
        raise HashvizError(f"{name}: the stored network cannot be rebuilt ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None


def _input_specs(graph: dict) -> list[dict]:
    return graph["graph_module"].get("signature", {}).get("input_specs", []) or []


def _stored_tensor_names(graph: dict) -> set[str]:
    names = set()
    for spec in _input_specs(graph):
        for kind, field in (("parameter", "parameter_name"), ("buffer", "buffer_name"),
                            ("tensor_constant", "tensor_constant_name")):
            if isinstance(spec, dict) and isinstance(spec.get(kind), dict):
                names.add(spec[kind].get(field))
    return names


def _parameter_names(graph: dict) -> set[str]:
    return {spec["parameter"].get("parameter_name") for spec in _input_specs(graph)
            if isinstance(spec, dict) and isinstance(spec.get("parameter"), dict)}


def _constant_names(graph: dict) -> set[str]:
    """Tensors torch.export keeps beside the state dict: tensor constants and non-persistent buffers."""
    names = set()
    for spec in _input_specs(graph):
        if isinstance(spec, dict) and isinstance(spec.get("tensor_constant"), dict):
            names.add(spec["tensor_constant"].get("tensor_constant_name"))
        elif isinstance(spec, dict) and isinstance(spec.get("buffer"), dict) and spec["buffer"].get("persistent") is False:
            names.add(spec["buffer"].get("buffer_name"))
    return names
