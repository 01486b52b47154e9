"""torchxrayvision DenseNet weights, read without running pickled code, and their safetensors form.

The published file (torchxrayvision's ``densenet121-res224-all``,
nih-pc-chex-mimic_ch-google-openi-kaggle-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt) is a
whole pickled model, ``torch.save(model)``, which torchxrayvision reads with
``torch.load(weights_only=False)``: unpickling it could run any code the file names. It was written
by torch < 1.6 (torchxrayvision patches in ``_non_persistent_buffers_set`` for it), so in torch's
legacy format, which ``torch.load(weights_only=True)`` refuses outright ("Only persistent_load of
storage is allowed": the legacy format pickles each module class as a persistent id). Torch pickles
are therefore read here by a restricted unpickler, in either container (legacy, or zip for files
written by torch >= 1.6), holding either a whole model or a plain state dict:

- every global the pickle names is looked up in an allow-list: the module classes of
  torchxrayvision's DenseNet, torch's tensor and parameter rebuild functions, the storage types,
  ``OrderedDict`` and ``set``. Any other global is refused in one line that names it, before it is
  imported; nothing else is ever resolved;
- module classes resolve to an inert stand-in that the pickle can only fill with attributes, so no
  torchxrayvision or torch.nn code runs; the state dict is read off the stand-ins' ``_parameters``
  and ``_buffers``;
- tensors are views of storages allocated here, bounded by the bytes the file holds.

Integrity: torchxrayvision publishes no hash of its files. ``PUBLISHED_SHA256`` and
``PUBLISHED_SIZE`` are what independent projects record for that release file (several agree; the
upstream release does not authenticate them). ``convert_xrv_weights`` writes a safetensors file
that carries the source file's sha256 and a digest of its tensors, so a converted file keeps the
identity of the file it came from, and a file changed after conversion is refused.
"""

from __future__ import annotations

import hashlib
import io
import math
import pickle
import struct
import warnings
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, Callable

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from cxrbench.cache import sha256_file
from cxrbench.errors import CxrbenchError, UnavailableError
from cxrbench.files import atomic_write

PUBLISHED_FILE = "nih-pc-chex-mimic_ch-google-openi-kaggle-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt"
PUBLISHED_URL = f"https://github.com/mlmed/torchxrayvision/releases/download/v1/{PUBLISHED_FILE}"
PUBLISHED_SIZE = 28_382_008
PUBLISHED_SHA256 = "56524913dd16a906422e8d8b66a7a5c46be1d82eb7ac012d8103776f1aa68899"
CONVERT_COMMAND = "cxrbench convert-weights xrv-densenet SRC DST"
INSTALL_HINT = 'pip install "cxrbench[xrv]"'
ACCEPTED = (
    f"pass the published torchxrayvision file, a state dict of it, or the safetensors file `{CONVERT_COMMAND}` writes"
)

# The classes torch.save(model) pickles for torchxrayvision's DenseNet (the same since its first release).
MODULE_CLASSES = frozenset(
    {
        "torchxrayvision.models.DenseNet",
        "torchxrayvision.models._DenseBlock",
        "torchxrayvision.models._DenseLayer",
        "torchxrayvision.models._Transition",
        "torch.nn.modules.container.Sequential",
        "torch.nn.modules.conv.Conv2d",
        "torch.nn.modules.batchnorm.BatchNorm2d",
        "torch.nn.modules.activation.ReLU",
        "torch.nn.modules.pooling.MaxPool2d",
        "torch.nn.modules.pooling.AvgPool2d",
        "torch.nn.modules.linear.Linear",
    }
)
ROOT_CLASS = "torchxrayvision.models.DenseNet"
STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of torch's legacy format
LEGACY_PROTOCOL = 1001
CONVERTER_MARK = "cxrbench xrv-densenet weights"


@dataclass(frozen=True)
class XrvWeights:
    """Tensors read from a weights file and where they came from.

    layout: "whole-model pickle", "state dict" or "safetensors".
    source_sha256: sha256 of the torch file the tensors were first read from: the file itself, or,
    for a safetensors file from ``convert_xrv_weights``, the file it was converted from.
    """

    tensors: dict[str, torch.Tensor]
    layout: str
    file_sha256: str
    source_sha256: str

    @property
    def published(self) -> bool:
        """Whether the tensors come from the published densenet121-res224-all file."""
        return self.source_sha256 == PUBLISHED_SHA256


class PickledModule:
    """Inert stand-in for an allow-listed module class: unpickling only fills its ``__dict__``."""

    pickled_as = ""


@dataclass(frozen=True)
class _StorageType:
    dtype: torch.dtype


def _refuse(path: Path, reason: str) -> CxrbenchError:
    return CxrbenchError(f"{path} cannot be read safely: {reason[:200]} (refused, nothing in it was run); {ACCEPTED}")


class _RestrictedUnpickler(pickle.Unpickler):
    """Reads one pickle of a torch.save file with only the allow-listed globals (module docstring).

    storage_bytes(key): how many bytes the file holds for storage ``key``; total_bytes: for all of
    them. Together they bound what the pickle can make this reader allocate.
    """

    def __init__(
        self, stream: BinaryIO, path: Path, storage_bytes: Callable[[str], int] = lambda key: 0, total_bytes: int = 0
    ) -> None:
        super().__init__(stream)
        self.path = path
        self.storage_bytes = storage_bytes
        self.unclaimed = total_bytes
        self.storages: dict[str, torch.Tensor] = {}
        self.storage_ids: set[int] = set()  # id() of each storage above, which keeps it alive
        self.stand_ins: dict[str, type] = {}
        self.functions = {
            "collections.OrderedDict": OrderedDict,
            "builtins.set": set,
            "__builtin__.set": set,
            "torch._utils._rebuild_tensor_v2": self._rebuild_tensor,
            "torch._utils._rebuild_parameter": self._rebuild_parameter,
        }

    def find_class(self, module: str, name: str) -> object:
        full = f"{module}.{name}"
        if full in MODULE_CLASSES:
            return self.stand_ins.setdefault(full, type(name, (PickledModule,), {"pickled_as": full}))
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if full not in self.functions:
            raise _refuse(self.path, f"it holds {full}, which a torchxrayvision DenseNet file does not")
        return self.functions[full]

    def persistent_load(self, pid: object) -> object:
        kind = pid[0] if isinstance(pid, tuple) and pid else None
        kind = kind.decode("ascii", "replace") if isinstance(kind, bytes) else kind
        if kind == "module" and len(pid) == 4 and isinstance(pid[1], type) and issubclass(pid[1], PickledModule):
            return pid[1]  # the legacy format's record of a module class; its saved source is ignored
        if kind == "storage" and len(pid) in (5, 6) and (len(pid) == 5 or pid[5] is None):
            storage_type, key, _location, numel = pid[1:5]
            if isinstance(storage_type, _StorageType) and isinstance(key, str) and _is_int(numel) and numel >= 0:
                return self._storage(key, storage_type.dtype, numel)
        raise _refuse(self.path, f"it holds a persistent id that is not a plain torch storage ({str(pid)[:60]})")

    def _storage(self, key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
        known = self.storages.get(key)
        if known is not None:
            if known.dtype != dtype or known.numel() != numel:
                raise _refuse(self.path, f"its storage {key} is declared twice with different types or sizes")
            return known
        nbytes = numel * _element_size(dtype)
        if nbytes > min(self.storage_bytes(key), self.unclaimed):
            raise _refuse(self.path, f"its storage {key} claims more bytes than the file holds")
        self.unclaimed -= nbytes
        self.storages[key] = torch.empty(numel, dtype=dtype)  # filled from the file once the pickle is read
        self.storage_ids.add(id(self.storages[key]))
        return self.storages[key]

    def _rebuild_tensor(
        self, storage: object, offset: object, size: object, stride: object, *_: object
    ) -> torch.Tensor:
        if not (
            id(storage) in self.storage_ids
            and _is_int(offset)
            and _int_tuple(size)
            and _int_tuple(stride)
            and len(size) == len(stride)
        ):
            raise _refuse(self.path, "it holds a tensor that is not a view of one of its storages")
        if math.prod(size) > storage.numel():  # a stride-0 view this large would be copied in full below
            raise _refuse(self.path, "it holds a tensor with more elements than its storage")
        try:
            return torch.as_strided(storage, size, stride, offset)  # checks that the view fits the storage
        except RuntimeError:
            raise _refuse(self.path, "it holds a tensor that reaches outside its storage") from None

    def _rebuild_parameter(self, data: object, *_: object) -> torch.Tensor:
        if not isinstance(data, torch.Tensor):
            raise _refuse(self.path, "it holds a parameter that is not a tensor")
        return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_tuple(value: object) -> bool:
    return isinstance(value, tuple) and all(_is_int(v) and v >= 0 for v in value)


def _element_size(dtype: torch.dtype) -> int:
    return torch.empty(0, dtype=dtype).element_size()


def _fill(storage: torch.Tensor, data: bytes) -> None:
    """Copy ``data`` into ``storage`` byte for byte (numpy's copy: torch's copy_ from a buffer is far slower)."""
    if storage.numel():
        storage.view(torch.uint8).numpy()[:] = np.frombuffer(data, dtype=np.uint8)


# Errors a damaged or hostile pickle can raise from the stdlib unpickler or from struct/zipfile.
_PARSE_ERRORS = (
    EOFError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
    struct.error,
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    RecursionError,
    MemoryError,
)


def _read_zip(path: Path, raw: bytes) -> object:
    """The pickled object of a zip-format torch.save file (torch >= 1.6): ``PREFIX/data.pkl``, whose
    storages are the records ``PREFIX/data/KEY``."""
    archive = zipfile.ZipFile(io.BytesIO(raw))
    pickles = [name for name in archive.namelist() if name.count("/") == 1 and name.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise _refuse(path, "it is a zip file but not one written by torch.save")
    prefix = pickles[0][: -len("data.pkl")]
    sizes = {info.filename: info.file_size for info in archive.infolist()}
    if f"{prefix}byteorder" in sizes and archive.read(f"{prefix}byteorder") != b"little":
        raise _refuse(path, "its tensors are stored big-endian")
    unpickler = _RestrictedUnpickler(
        io.BytesIO(archive.read(pickles[0])), path, lambda key: sizes.get(f"{prefix}data/{key}", 0), sum(sizes.values())
    )
    root = unpickler.load()
    for key, storage in unpickler.storages.items():
        _fill(storage, archive.read(f"{prefix}data/{key}")[: storage.numel() * storage.element_size()])
    return root


def _read_legacy(path: Path, raw: bytes) -> object:
    """The pickled object of a legacy torch.save file (torch < 1.6): five pickles (magic number,
    format version, system info, the object, its storage keys), then each storage as an int64
    element count followed by its bytes."""
    stream = io.BytesIO(raw)
    magic = _RestrictedUnpickler(stream, path).load()  # the header and the key list hold no storages
    version = _RestrictedUnpickler(stream, path).load()
    info = _RestrictedUnpickler(stream, path).load()
    if magic != LEGACY_MAGIC or version != LEGACY_PROTOCOL or not isinstance(info, dict):
        raise _refuse(path, "it is not a torch.save file")
    if not info.get("little_endian", True):
        raise _refuse(path, "its tensors are stored big-endian")
    remaining = len(raw) - stream.tell()
    unpickler = _RestrictedUnpickler(stream, path, lambda key: remaining, remaining)
    root = unpickler.load()
    keys = _RestrictedUnpickler(stream, path).load()
    if not (isinstance(keys, list) and sorted(map(str, keys)) == sorted(unpickler.storages)):
        raise _refuse(path, "its list of storages does not match its tensors")
    for key in keys:
        storage = unpickler.storages[key]
        nbytes = storage.numel() * storage.element_size()
        (count,) = struct.unpack("<q", stream.read(8))
        data = stream.read(nbytes)
        if count != storage.numel() or len(data) != nbytes:
            raise _refuse(path, f"its storage {key} is truncated or of the wrong size")
        _fill(storage, data)
    return root


def _module_tensors(path: Path, module: PickledModule, prefix: str = "") -> dict[str, torch.Tensor]:
    """What ``module.state_dict()`` would hold, read off the stand-in's attributes."""
    state = vars(module)
    skipped = state.get("_non_persistent_buffers_set") or set()  # absent in pickles from torch < 1.6
    tensors: dict[str, torch.Tensor] = {}
    for table in ("_parameters", "_buffers"):
        for name, value in _table(path, module, table).items():
            if value is None or (table == "_buffers" and name in skipped):
                continue
            if not isinstance(value, torch.Tensor):
                raise _refuse(path, f"its {module.pickled_as} holds a {type(value).__name__} among its {table}")
            tensors[prefix + name] = value
    for name, child in _table(path, module, "_modules").items():
        if child is None:
            continue
        if not isinstance(child, PickledModule):
            raise _refuse(path, f"its {module.pickled_as} holds a {type(child).__name__} as a submodule")
        tensors.update(_module_tensors(path, child, f"{prefix}{name}."))
    return tensors


def _table(path: Path, module: PickledModule, name: str) -> dict:
    table = vars(module).get(name, {})
    if not isinstance(table, dict) or not all(isinstance(key, str) for key in table):
        raise _refuse(path, f"its {module.pickled_as} holds a damaged {name} table")
    return table


def _read_torch_pickle(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """(state dict, layout) of a torch.save file holding a torchxrayvision DenseNet or a dict of tensors."""
    raw = path.read_bytes()
    try:
        root = _read_zip(path, raw) if raw.startswith(b"PK\x03\x04") else _read_legacy(path, raw)
        if isinstance(root, PickledModule) and root.pickled_as == ROOT_CLASS:
            tensors, layout = _module_tensors(path, root), "whole-model pickle"
        elif isinstance(root, dict) and root and all(isinstance(v, torch.Tensor) for v in root.values()):
            tensors, layout = dict(root), "state dict"
        else:
            raise _refuse(
                path,
                f"it holds a {getattr(root, 'pickled_as', type(root).__name__)}, not a "
                "torchxrayvision DenseNet or a state dict",
            )
        if sum(tensor.numel() * tensor.element_size() for tensor in tensors.values()) > len(raw):
            raise _refuse(path, "its tensors add up to more bytes than the file holds")  # aliases, to be copied
    except _PARSE_ERRORS as error:
        raise _refuse(path, f"it is damaged or not written by torch.save ({type(error).__name__})") from None
    return _unshared(tensors), layout


def _unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each tensor with memory of its own: as it is when it is the whole of a storage no other
    tensor uses (the usual case, no copy), else a contiguous copy (safetensors refuses aliases)."""
    used: set[int] = set()
    unshared = {}
    for name, tensor in tensors.items():
        storage = tensor.untyped_storage()
        whole = (
            tensor.is_contiguous()
            and tensor.storage_offset() == 0
            and storage.nbytes() == tensor.numel() * tensor.element_size()
        )
        unshared[name] = (
            tensor if whole and storage.data_ptr() not in used else tensor.clone(memory_format=torch.contiguous_format)
        )
        used.add(storage.data_ptr())
    return unshared


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names, dtypes, shapes and bytes, in name order (container-independent)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _read_safetensors(path: Path, file_sha256: str) -> XrvWeights:
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise CxrbenchError(f"{path} is damaged or not a safetensors file ({str(error)[:120]}); {ACCEPTED}") from None
    source = file_sha256
    if metadata.get("written_by") == CONVERTER_MARK:
        if tensors_sha256(tensors) != metadata.get("tensors_sha256"):
            raise CxrbenchError(
                f"{path} was changed after `{CONVERT_COMMAND}` wrote it (its tensors no longer "
                "match the digest it records); convert the source file again"
            )
        source = metadata.get("source_sha256", file_sha256)
    return XrvWeights(tensors, "safetensors", file_sha256, source)


def read_xrv_weights(path: str | Path) -> XrvWeights:
    """The tensors of a torchxrayvision DenseNet weights file: the published whole-model pickle (or
    any torch.save of an xrv DenseNet), a torch.save state dict, or a safetensors file.

    Nothing in the file is executed (module docstring). Raises CxrbenchError in one line when the
    file is missing, damaged, or holds anything but the allow-listed classes and tensors.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CxrbenchError(f"torchxrayvision weights file {path} does not exist; {ACCEPTED}")
    file_sha256 = sha256_file(path)
    with open(path, "rb") as handle:
        head = handle.read(9)
    if len(head) == 9 and head[8:9] == b"{":  # safetensors: an 8-byte header length, then its JSON
        return _read_safetensors(path, file_sha256)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80"):  # zip, or a pickle's PROTO opcode
        tensors, layout = _read_torch_pickle(path)
        return XrvWeights(tensors, layout, file_sha256, file_sha256)
    raise CxrbenchError(f"{path} is neither a torch.save file nor a safetensors file; {ACCEPTED}")


def import_torchxrayvision() -> ModuleType:
    """The torchxrayvision package, imported without the global warning filter its import installs."""
    try:
        with warnings.catch_warnings():  # torchxrayvision.models calls warnings.filterwarnings("ignore")
            import torchxrayvision
    except ImportError as error:
        raise UnavailableError(
            f"the xrv-densenet feature space needs torchxrayvision ({error}); install it: {INSTALL_HINT}"
        ) from None
    return torchxrayvision


def densenet_from_tensors(tensors: dict[str, torch.Tensor], origin: str | Path) -> torch.nn.Module:
    """torchxrayvision's DenseNet-121 (1 input channel) holding ``tensors``, in eval mode.

    op_threshs (present in a state dict of a model loaded with torchxrayvision's weights) is left
    out: it calibrates the classifier's outputs, not the features. Raises CxrbenchError when the
    tensors do not fit the architecture.
    """
    xrv = import_torchxrayvision()
    tensors = {name: value for name, value in tensors.items() if name != "op_threshs"}
    classifier = tensors.get("classifier.weight")
    if classifier is None or classifier.dim() != 2:
        raise CxrbenchError(
            f"{origin} holds no DenseNet classifier.weight; it is not torchxrayvision DenseNet weights; {ACCEPTED}"
        )
    with torch.device("meta"):  # no random init to throw away: the file's tensors become the parameters
        model = xrv.models.DenseNet(weights=None, num_classes=classifier.shape[0], in_channels=1)
    try:
        result = model.load_state_dict(tensors, strict=False, assign=True)
    except RuntimeError as error:  # a shape mismatch
        detail = str(error).splitlines()[-1].strip().rstrip(".")[:240]
        raise CxrbenchError(f"{origin} does not fit torchxrayvision's DenseNet-121: {detail}; {ACCEPTED}") from None
    if result.missing_keys or result.unexpected_keys:
        names = ["missing " + k for k in result.missing_keys] + ["unexpected " + k for k in result.unexpected_keys]
        raise CxrbenchError(
            f"{origin} does not fit torchxrayvision's DenseNet-121 ({len(names)} tensors differ, "
            f"e.g. {', '.join(names[:3])}); {ACCEPTED}"
        )
    return model.eval()


def convert_xrv_weights(src: str | Path, dst: str | Path) -> XrvWeights:
    """Read ``src`` safely (any layout ``read_xrv_weights`` accepts) and write its tensors to the
    safetensors file ``dst`` (atomically), recording the source's sha256 and the tensors' digest.

    The tensors are checked against torchxrayvision's DenseNet-121 first (needs torchxrayvision).
    Returns the weights as read from ``src``.
    """
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if dst.exists() and dst.resolve() == src.resolve():
        raise CxrbenchError(f"convert-weights would overwrite its source {src}; give another destination")
    weights = read_xrv_weights(src)
    densenet_from_tensors(weights.tensors, src)
    metadata = {
        "written_by": CONVERTER_MARK,
        "source_sha256": weights.source_sha256,
        "source_layout": weights.layout,
        "tensors_sha256": tensors_sha256(weights.tensors),
    }
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(dst, lambda tmp: save_file(weights.tensors, str(tmp), metadata=metadata), suffix=".safetensors")
    return weights
