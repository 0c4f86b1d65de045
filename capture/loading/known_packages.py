"""Top-level import names that belong to a distribution, never to a crawled repo's files.

Why: "a name the repo has is never stubbed" found missing top-level names
anywhere in the tree, so `import onnx` landed on a nested `op/torch/onnx.py`
and `from decorator import decorator` inside `utils/decorator.py` on that
very file (a circular import that failed the whole project). A name listed
here gets the installed package, or a stub, unless the repo ships it at one
of its own source roots (capture/loading/repo_paths.py). The set is the
standard library, the installed distributions' top-level names (read with
importlib.metadata, nothing imported) and a shipped list of the PyPI
packages ML code imports most (names repos also use for their own folders,
`datasets`, `future`, are left out of it).
"""
from __future__ import annotations

import sys
from functools import lru_cache
from importlib import metadata

# Import names (not distribution names) of the most-used PyPI packages in ML code.
COMMON = frozenset("""
absl accelerate addict aiohttp albumentations alembic allennlp antlr4 apex appdirs arrow astor astropy
attr attrs audioread av awscli azure babel backoff bcolz beautifulsoup4 bitsandbytes black bleach blosc bokeh
boto boto3 botocore bs4 cachetools catboost certifi cffi chainer chardet charset_normalizer click cloudpickle
colorama coloredlogs comet_ml configargparse configobj contextlib2 coremltools cupy cv2 cycler cython cytoolz
dask dataclasses datasets dateutil decorator deepspeed detectron2 diffusers dill distro dlib docker docopt
docutils dominate easydict editdistance einops elasticsearch emoji esm fairscale fairseq faiss fastai fastapi
fasteners filelock fire flake8 flask flatbuffers fsspec ftfy fvcore gast gdown gensim geopandas gevent
gin git github gitdb google googleapiclient gradio graphviz grpc gym gymnasium h5py haiku hdbscan huggingface_hub
humanize hydra hyperopt idna imageio imagesize imgaug importlib_metadata inflect iniconfig iopath ipdb ipykernel
ipython IPython ipywidgets isort itsdangerous jax jaxlib jieba jinja2 jmespath joblib json5 jsonlines
jsonschema jupyter kaldiio keras kiwisolver kornia langchain lark lightgbm lightning lmdb librosa llvmlite
lpips lxml lz4 markdown markupsafe matplotlib mccabe memory_profiler minio mistune mlflow mmcv mmdet mmengine
mmseg mock more_itertools moviepy mpi4py mpl_toolkits msgpack multidict multiprocess munch natsort nbformat
neptune nest_asyncio netCDF4 networkx nibabel nltk nose numba numexpr numpy nvidia oauthlib omegaconf onnx
onnxruntime open3d openai opencv opt_einsum optax optuna orjson packaging pandas paramiko parso pathos
pathspec patsy pbr pdb pexpect PIL pillow pkg_resources platformdirs plotly pluggy ply portalocker prettytable
prompt_toolkit protobuf psutil psycopg2 ptflops pyarrow pyasn1 pybind11 pycocotools pycparser pydantic pydub
pyflakes pygame pygments pylab pyparsing pyro pyrsistent pysptk pytest pytorch_lightning pytorch3d pytz
pyworld pywt pyximport pyyaml qtpy ray redis regex requests rich rsa ruamel sacrebleu sacred sacremoses scikit_learn
scipy seaborn segmentation_models_pytorch sentencepiece sentry_sdk setproctitle setuptools shapely simplejson
six skimage sklearn smart_open smmap sniffio soundfile spacy sqlalchemy stable_baselines3 statsmodels submitit
sympy tabulate tb_nightly tensorboard tensorboardX tensorflow tensorflow_hub termcolor terminaltables tflearn
thop threadpoolctl tifffile tiktoken timm tokenizers toml tomli toolz torch torch_geometric torch_scatter
torch_sparse torchaudio torchdiffeq torchmetrics torchtext torchvision tornado tqdm traitlets transformers
trimesh triton typeguard typing_extensions tzdata ujson unidecode urllib3 visdom wandb warmup_scheduler
wcwidth webdataset websocket werkzeug wget wheel wrapt xgboost xlrd xmltodict xxhash yacs yaml yapf yarl
zipp zmq
""".split())


@lru_cache(maxsize=1)
def installed() -> frozenset[str]:
    """Top-level import names of the distributions installed here."""
    try:
        return frozenset(metadata.packages_distributions())
    except Exception:  # noqa: BLE001 - broken metadata leaves the shipped list
        return frozenset()


# graphcrawl's own top-level packages (installed, and already imported in the worker): not a claim
# on a crawled repo's folder of the same name.
OWN = frozenset({"graphcrawl", "capture", "backend", "db", "crawler", "reports", "scripts", "tests"})


def is_known(name: str) -> bool:
    """Whether top-level `name` is a distribution's (or the standard library's), not a repo's to supply."""
    if name in OWN:
        return False
    return name in COMMON or name in sys.stdlib_module_names or name in installed()
