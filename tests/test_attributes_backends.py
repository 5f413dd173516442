"""Loading paths of the optional backends, with local fakes only (no download, no network).

- LLM: a threaded HTTP server on 127.0.0.1 speaking the OpenAI chat protocol;
- CLIP and BLIP VQA: tiny randomly initialised transformers models saved to disk;
- diffusers: a tiny randomly initialised Stable-Diffusion pipeline (skipped when
  diffusers is not installed);
- MiniLM synonyms and representative images (the value proposal).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from test_attributes_fixtures import make_run

from slicelens.attributes.base import ASSIGNERS, TAGGERS, Attribute, get_backend
from slicelens.attributes.proposal import propose_attributes
from slicelens.data.arrays import from_arrays
from slicelens.errors import SliceLensError

WORDS = ["what", "is", "the", "of", "in", "image", "a", "photo", "with", "background", "grass",
         "brick", "colour", "red", "green", "object", "digit", "size", "small", "large"]


# -- language model ---------------------------------------------------------------------
@pytest.fixture
def chat_server():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        reply = ""

        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            out = json.dumps({"choices": [{"message": {"role": "assistant",
                                                       "content": Handler.reply}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1", Handler, seen
    server.shutdown()


def test_llm_proposer_speaks_openai_chat(chat_server, monkeypatch):
    url, handler, seen = chat_server
    handler.reply = '```json\n[{"name": "gender", "values": ["male", "female"]}, {"name": "age"}]\n```'
    monkeypatch.setenv("SLICELENS_LLM_BASE_URL", url)
    monkeypatch.setenv("SLICELENS_LLM_MODEL", "tiny")
    monkeypatch.setenv("SLICELENS_LLM_API_KEY", "k-123")
    spec = propose_attributes("llm", "human appearance")
    assert spec.names == ["gender", "age"] and spec.get("gender").values == ["male", "female"]
    req = seen[0]
    assert req["path"] == "/v1/chat/completions" and req["body"]["model"] == "tiny"
    assert req["auth"] == "Bearer k-123"
    assert "Can you list some attributes to describe human appearance?" in req["body"]["messages"][-1]["content"]
    handler.reply = "Sure:\n1. Hair colour: black, brown\n2. Glasses"
    spec = propose_attributes("llm", "faces")
    assert spec.names == ["hair colour", "glasses"] and spec.get("hair colour").values == ["black", "brown"]


def test_llm_proposer_errors_clearly(monkeypatch):
    monkeypatch.delenv("SLICELENS_LLM_BASE_URL", raising=False)
    with pytest.raises(SliceLensError, match="SLICELENS_LLM_BASE_URL"):
        propose_attributes("llm", "x", model="m")
    with pytest.raises(SliceLensError, match="cannot reach"):
        propose_attributes("llm", "x", base_url="http://127.0.0.1:9/v1", model="m", timeout=2)


# -- tiny transformers models ---------------------------------------------------------------
def _tokenizer(path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[BOS]", "[SEP]", *WORDS])}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]",
                            bos_token="[BOS]", sep_token="[SEP]",
                            model_max_length=16).save_pretrained(path)
    return len(vocab)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, size=(6, 20, 20, 3), dtype=np.uint8)
    label = np.arange(6) % 2
    run = make_run(root, label, label, ["val"] * 6)
    ds = from_arrays(imgs, label, ["a", "b"], splits="val", ids=run.samples["id"].to_numpy(str))
    return run, ds


def test_clip_backend_loads_a_local_model(tmp_path, tiny_run):
    transformers = pytest.importorskip("transformers")
    n = _tokenizer(tmp_path)
    cfg = transformers.CLIPConfig(
        text_config={"vocab_size": n, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16, "eos_token_id": 3,
                     "pad_token_id": 0, "bos_token_id": 2},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 16, "patch_size": 8},
        projection_dim=8)
    transformers.CLIPModel(cfg).save_pretrained(tmp_path)
    run, ds = tiny_run
    attr = Attribute("background", ["grass", "brick", "red"])
    clip = get_backend(ASSIGNERS, "clip", model_path=str(tmp_path))
    m = clip.assign(run, [attr], ds, np.arange(6))
    codes, scores = m.codes(run.samples["id"])
    assert codes.shape == (6, 1) and (codes >= 0).all()
    assert ((scores > 1 / 3 - 1e-6) & (scores <= 1)).all()   # max of a 3-way softmax
    again = clip.assign(run, [attr], ds, np.arange(6))
    assert np.array_equal(again.codes(run.samples["id"])[0], codes)
    with pytest.raises(SliceLensError, match="config.json"):
        get_backend(ASSIGNERS, "clip", model_path=str(tmp_path / "nope")).assign(run, [attr], ds, np.arange(6))


def test_blip_vqa_backend_loads_a_local_model(tmp_path, tiny_run):
    transformers = pytest.importorskip("transformers")
    n = _tokenizer(tmp_path)
    cfg = transformers.BlipConfig(
        text_config={"vocab_size": n, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 32, "encoder_hidden_size": 16,
                     "bos_token_id": 2, "sep_token_id": 3, "pad_token_id": 0},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 16, "patch_size": 8},
        projection_dim=8)
    transformers.BlipForQuestionAnswering(cfg).save_pretrained(tmp_path)
    run, ds = tiny_run
    attr = Attribute("background", ["grass", "brick"])
    tagger = get_backend(TAGGERS, "vqa", model_path=str(tmp_path), max_new_tokens=3)
    answers = tagger.tag(ds.load_uint8(np.arange(3)), attr, "digit")
    assert len(answers) == 3 and all(isinstance(a, list) for a in answers)
    m = get_backend(ASSIGNERS, "vqa", model_path=str(tmp_path), max_new_tokens=3).assign(
        run, [attr], ds, np.arange(6))
    codes, scores = m.codes(run.samples["id"])
    assert (codes >= 0).all() and ((scores >= 0) & (scores <= 1)).all()


def test_diffusers_generator_with_a_tiny_local_pipeline(tmp_path, tiny_run):
    diffusers = pytest.importorskip("diffusers")
    transformers = pytest.importorskip("transformers")
    import torch

    from slicelens.repair.generate import GenerationContext, PromptSpec, get_generator

    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
        norm_num_groups=4, attention_head_dim=2)
    vae = diffusers.AutoencoderKL(block_out_channels=(8,), in_channels=3, out_channels=3,
                                  down_block_types=("DownEncoderBlock2D",),
                                  up_block_types=("UpDecoderBlock2D",), latent_channels=4,
                                  norm_num_groups=4, sample_size=8)
    n = _tokenizer(tmp_path / "tokenizer")
    text = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=n, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=16, eos_token_id=3, pad_token_id=0))
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "tokenizer")
    pipe = diffusers.StableDiffusionPipeline(
        vae=vae, text_encoder=text, tokenizer=tok, unet=unet,
        scheduler=diffusers.DDIMScheduler(clip_sample=False), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.save_pretrained(tmp_path / "pipe")
    run, ds = tiny_run
    gen = get_generator("diffusers", model_path=str(tmp_path / "pipe"), steps=2, height=8,
                        batch_size=2)
    images, labels = gen.generate([PromptSpec(1, {}, "a photo of brick background")], [3],
                                  GenerationContext(run, ds, 12), seed=0)
    assert images.shape == (3, 12, 12, 3) and images.dtype == np.uint8 and labels.tolist() == [1, 1, 1]


# -- value proposal ---------------------------------------------------------------------------
def test_representatives_are_the_samples_nearest_the_centres():
    from slicelens.attributes.values import representative_rows

    centres = np.array([[0, 0], [10, 10], [-10, 10]], float)
    ring = np.array([[dx, dy] for dx in (-1, 0, 1) for dy in (-1, 0, 1)], float)  # mean 0
    emb = np.concatenate([c + ring for c in centres])   # rows 4, 13, 22 sit on the centres
    rows = representative_rows(emb, 3, per_cluster=1)
    assert sorted(rows.tolist()) == [4, 13, 22]


def test_synonyms_merge_and_frequent_answers_win():
    from slicelens.attributes.text import merge_synonyms
    from slicelens.attributes.values import pool_answers

    rep = merge_synonyms(["grass", "Grass ", "lawn grass", "brick wall"], threshold=0.7)
    assert rep["Grass "] == "grass" and rep["brick wall"] == "brick wall"
    assert pool_answers([["grass"], ["Grass"], ["brick wall"], ["stone"]], 2, 0.99) == ["grass", "brick wall"]


def test_imagenet_tagger_and_value_weights():
    from slicelens.attributes.assign_imagenet import imagenet_classes, value_weights

    w = value_weights(["stone wall", "daisy"], top_k=3)
    names = imagenet_classes()
    assert np.allclose(w.sum(1), 1) and names[int(w[0].argmax())] == "stone wall"
    tagger = get_backend(TAGGERS, "imagenet", image_size=64, answers=2)
    answers = tagger.tag(np.zeros((2, 32, 32, 3), np.uint8), Attribute("background"))
    assert len(answers) == 2 and all(len(a) == 2 and a[0] in names for a in answers)
