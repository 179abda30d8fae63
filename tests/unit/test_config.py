"""Every config group composes against the typed schema; typos and wrong types fail at composition."""

import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from msm.config import register_configs

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"
GROUPS = ["spec", "model", "aft_scale", "generator", "datagen", "judge", "midtrain", "aft", "eval", "logger", "experiment"]
sys.path.insert(0, str(REPO))
from train import expand_shorthand  # noqa: E402

register_configs()


def _compose(overrides=(), hydra_cfg=False):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra_cfg)


def _options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_default_is_the_embedded_cheese_job():
    cfg = _compose()
    assert (cfg.spec.name, cfg.model.name, cfg.midtrain.method, cfg.aft.name, cfg.eval.name) == (
        "cheese_affordability", "smollm2_135m", "lora", "cot", "auto")  # auto: the spec's own eval (cheese)
    assert cfg.seed == 0 and cfg.stages == ["data", "midtrain", "aft", "eval"]
    assert cfg.experiment == "demo" and cfg.eval.max_items == 170 and cfg.aft_scale.rows == 240
    assert cfg.midtrain.lora.r == 64 and cfg.midtrain.lora.alpha == 128 and cfg.midtrain.lr == 1e-4


@pytest.mark.parametrize("group", GROUPS)
def test_every_option_composes(group):
    options = _options(group)
    assert options, f"conf/{group} has no options"
    for opt in options:
        cfg = _compose([f"{group}={opt}"] + (["spec.path=x.md"] if opt == "file" else []))
        assert cfg is not None


@pytest.mark.parametrize("group", GROUPS + ["cheese_size", "hydra/launcher", "hydra/help"])
def test_every_option_file_opens_with_a_comment(group):
    for path in (CONF / group).glob("*.yaml"):
        assert path.read_text().lstrip().startswith("#"), f"{path} should open with a comment saying what it is for"


def test_aft_scale_options_set_an_int():
    assert _compose(["aft_scale=1.25k"]).aft_scale.rows == 1250
    assert _compose(["aft_scale=all"]).aft_scale.rows is None
    assert _compose(["aft_scale=demo"]).aft_scale.rows == 240
    assert _compose(["aft_scale.rows=32"]).aft_scale.rows == 32


def test_no_cot_is_cot_without_the_think_block():
    cot, no_cot = _compose(["aft=cot"]).aft, _compose(["aft=no_cot"]).aft
    assert cot.cot and not no_cot.cot and cot.lr == no_cot.lr and cot.data == no_cot.data


def test_typo_fails_with_the_key_named():
    with pytest.raises(ConfigCompositionException) as e:
        _compose(["midtrain.learning_rate=1e-3"])
    assert "learning_rate" in str(e.value.__cause__ or e.value)


def test_wrong_type_fails():
    with pytest.raises((ConfigCompositionException, ValidationError)) as e:
        _compose(["seed=abc"])
    assert "seed" in str(e.value.__cause__ or e.value) or "Integer" in str(e.value.__cause__ or e.value)


def test_unknown_option_lists_available():
    with pytest.raises(Exception) as e:
        _compose(["spec=nonexistent"])
    msg = str(e.value)
    assert "spec/nonexistent" in msg and "cheese_affordability" in msg


def test_slurm_launcher_extends_submitit_slurm():
    cfg = _compose(["hydra/launcher=slurm"], hydra_cfg=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher.max_num_timeout == 3 and launcher.timeout_min == 720
    local = _compose([], hydra_cfg=True).hydra.launcher
    assert local._target_ == "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def test_the_laptop_cheese_experiment_changes_size_with_one_override():
    """cheese_size belongs to experiment=cheese_cpu (not to the default job): cpu is its default, gpu one
    override away, and each size keeps every stage at the updates the pre-registration names."""
    cpu = _compose(["experiment=cheese_cpu"], hydra_cfg=True)
    assert cpu.hydra.sweeper.params.seed == "range(0,4)" and cpu.experiment == "cheese_cpu"
    assert (cpu.midtrain.max_tokens, cpu.midtrain.max_seq_len, cpu.midtrain.batch_size) == (48000, 256, 1)
    assert (cpu.aft_scale.rows, cpu.aft.max_seq_len, cpu.eval.max_items) == (380, 256, 170)
    gpu = _compose(["experiment=cheese_cpu", "cheese_size=gpu"])
    assert (gpu.midtrain.max_tokens, gpu.aft_scale.rows, gpu.eval.max_items) == (1_000_000, None, None)
    assert gpu.spec.name == cpu.spec.name and gpu.midtrain.lr == cpu.midtrain.lr  # the same design, bigger
    with pytest.raises(ConfigCompositionException):
        _compose(["cheese_size=gpu"])  # without the preset there is nothing to size


def test_cheese_experiment_declares_its_sweep():
    cfg = _compose(["experiment=cheese"], hydra_cfg=True)
    params = cfg.hydra.sweeper.params
    assert params.spec == "cheese_affordability,cheese_america" and params.seed == "range(0,4)"
    assert cfg.experiment == "cheese"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["-m", "seed=0-3"], ["-m", "seed=range(0,4)"]),
        (["-m", "seed=2-2"], ["-m", "seed=2"]),
        (["seed=5"], ["seed=5"]),
        (["-m", "spec=a,b", "seed=1-2"], ["-m", "spec=a,b", "seed=range(1,3)"]),
        (["-m", "model.name=a-b"], ["-m", "model.name=a-b"]),
    ],
)
def test_seed_ranges(argv, expected):
    assert expand_shorthand(argv) == expected


@pytest.mark.parametrize("argv, message", [(["seed=0-3"], "add -m"), (["-m", "seed=3-1"], "range is empty")])
def test_seed_range_mistakes(argv, message):
    with pytest.raises(SystemExit) as e:
        expand_shorthand(argv)
    assert message in str(e.value)


# ---- closed sets are types ----------------------------------------------------------------------------


@pytest.mark.parametrize("override, allowed", [
    ("midtrain.method=lorra", "[none, lora, full, adapter]"),
    ("aft.method=loraa", "[none, lora, full, adapter]"),
    ("aft.data=genrated", "[auto, cheese, generated, value_choices, value_choices_shuffled, file]"),
    ("eval.sampler=vlm", "[hf, openai, vllm, serve]"),
    ("eval.kind=agentik", "[auto, cheese, agentic, inspect]"),
    ("eval.precision=bf32", "[auto, bf16, fp32]"),
    ("generator.backend=opnai", "[offline, openai, anthropic, hf]"),
    ("judge.backend=antropic", "[none, openai, anthropic, hf]"),
    ("model.source=hubb", "[tiny, smollm2_gguf, hub]"),
    ("model.dtype=fp17", "[auto, float32, bfloat16, float16]"),
    ("midtrain.scheduler=cosin", "cosine"),
    ("aft.precision=half", "[auto, bf16, fp32]"),
    ("datagen.aft.style=values", "[value, rules]"),
    ("logger.mode=offlin", "[offline, online, disabled]"),
    ("stages=[data,midtrian]", "[data, midtrain, aft, eval]"),
    ("eval.scorer=letters", "[letter, stance, generate]"),
])
def test_a_value_outside_a_closed_set_fails_at_compose_naming_field_and_choices(override, allowed):
    with pytest.raises(ConfigCompositionException) as e:
        _compose([override])
    msg = str(e.value.__cause__ or e.value)
    field = override.split("=")[0]
    assert "Invalid value" in msg and allowed in msg and field.split(".")[-1] in msg, msg


def test_closed_set_values_read_as_plain_strings():
    cfg = _compose(["model=tiny"])
    assert cfg.midtrain.method == "lora" and f"{cfg.aft.data}" == "auto" and str(cfg.model.source) == "tiny"
    assert OmegaConf.to_container(cfg.eval, enum_to_str=True)["scorer"] == "letter"


def test_the_schema_has_no_catch_all_field():
    assert "extra" not in _compose()


@pytest.mark.parametrize("group", GROUPS)
def test_every_option_is_named_by_its_file(group):
    """An option's ``name`` (recorded in metrics and run names) is its file name, so a record says which
    file made it; experiment presets record theirs in the top-level ``experiment`` key."""
    for opt in _options(group):
        cfg = _compose([f"{group}={opt}"] + (["spec.path=x.md"] if opt == "file" else []))
        name = cfg.experiment if group == "experiment" else cfg[group].name
        assert name == opt, f"conf/{group}/{opt}.yaml says name: {name}"


def test_every_eval_option_says_which_kind_of_eval_it_is():
    for opt in _options("eval"):
        assert _compose([f"eval={opt}"]).eval.kind == ("auto" if opt == "auto" else opt.split("_")[0]), opt


def test_auto_holds_both_evals_settings_so_overrides_reach_whichever_runs():
    auto, cheese, agentic = (_compose([f"eval={e}"]).eval for e in ("auto", "cheese", "agentic"))
    assert auto.families == cheese.families and auto.grid == agentic.grid and auto.sampler == agentic.sampler
    demo = _compose().eval  # the CPU-sized demo sizes both
    assert demo.max_items == 170 and demo.grid == "smoke" and demo.max_new_tokens == 64


def test_every_schema_field_is_documented_for_the_reference():
    """docs/reference/config.md is generated from the comments beside the schema's fields (msm.confdoc): a field
    without one would appear there unexplained."""
    from msm.confdoc import reference_markdown, schema_rows
    from msm.config import TrainConfig

    rows = schema_rows(TrainConfig)
    assert len(rows) > 150 and not [name for name, _, _, doc in rows if not doc]
    docs = {name: doc for name, _, _, doc in rows}
    assert docs["midtrain.max_documents"] == "the first N documents of that order"  # not the block comment above
    assert docs["judge.temperature"] == "the judge samples greedily by default"  # a subclass's own
    assert docs["generator.temperature"] == "sampling temperature"  # inherited from LLMConfig
    page = reference_markdown()
    assert all(f"| `{name}` |" in page for name, *_ in rows)
    assert "keep the &lt;think&gt; block" in page  # text in a table cell, not an HTML tag
    assert all(f"### `{group}`" in page for group in ("model", "midtrain", "experiment", "cheese_size", "hydra/launcher"))
