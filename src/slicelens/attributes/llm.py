"""Attribute name proposal by a language model (HiBug Sec. 3.1, Fig. 2 and Fig. 7).

Any OpenAI-compatible chat endpoint works (``POST {base_url}/chat/completions``), e.g. a
local llama.cpp / vLLM / Ollama server. Configuration comes from parameters or the
environment, never from code:

- ``SLICELENS_LLM_BASE_URL`` (e.g. ``http://127.0.0.1:8080/v1``)
- ``SLICELENS_LLM_MODEL``
- ``SLICELENS_LLM_API_KEY`` (optional; sent as ``Authorization: Bearer ...``)

The prompt is the paper's question, "Can you list some attributes to describe <task
element>?", asking for a JSON answer so that values can come back too (HiBug later
proposes values with VQA; values given by the model are kept, and ``propose_values``
can replace them). The answer is parsed as JSON, else as one attribute per line.
Plain ``urllib``: no extra dependency.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request

from pydantic import BaseModel, Field

from slicelens.attributes.base import Attribute, AttributeSpec, Backend, register_proposer
from slicelens.errors import SliceLensError

SYSTEM = ("You help debug an image classifier. Answer with JSON only: a list of objects "
          '{"name": attribute, "values": [possible values]}.')
QUESTION = "Can you list some attributes to describe {element}?"


def _parse(content: str) -> list[Attribute]:
    text = content.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1).strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        data = data.get("attributes", list(data.items()))
    attrs: list[Attribute] = []
    if isinstance(data, list):
        for item in data:
            if isinstance(item, str):
                attrs.append(Attribute(item.strip()))
            elif isinstance(item, dict) and item.get("name"):
                attrs.append(Attribute(str(item["name"]).strip(),
                                       [str(v) for v in item.get("values") or []]))
            elif isinstance(item, list | tuple) and len(item) == 2:
                attrs.append(Attribute(str(item[0]).strip(), [str(v) for v in item[1] or []]))
    else:  # "1. hair colour: black, brown" or "- age"; list items only when there are any
        bullet = r"^\s*(?:[-*]|\d+[.)])\s+"
        lines = content.splitlines()
        items = [ln for ln in lines if re.match(bullet, ln)] or lines
        for line in items:
            line = re.sub(bullet, "", line).strip()
            if not line or line.endswith("?"):
                continue
            name, _, vals = line.partition(":")
            attrs.append(Attribute(name.strip().lower(),
                                   [v.strip() for v in vals.split(",") if v.strip()]))
    seen, out = set(), []
    for a in attrs:
        if a.name and a.name.lower() not in seen:
            seen.add(a.name.lower())
            out.append(a)
    return out


@register_proposer("llm")
class LLMProposer(Backend):
    """Attributes from an OpenAI-compatible chat endpoint, with the paper's question."""

    p: Params  # the validated parameters (set in __init__/fit)
    class Params(BaseModel):
        base_url: str | None = Field(None, description="endpoint base (env SLICELENS_LLM_BASE_URL)")
        model: str | None = Field(None, description="model name (env SLICELENS_LLM_MODEL)")
        element: str | None = Field(None, description="what to describe (default: the task text)")
        timeout: float = Field(60.0, gt=0, description="seconds to wait for the answer")
        temperature: float = Field(0.0, ge=0, le=2, description="sampling temperature")

    def propose(self, task: str = "") -> AttributeSpec:
        base = self.p.base_url or os.environ.get("SLICELENS_LLM_BASE_URL")
        model = self.p.model or os.environ.get("SLICELENS_LLM_MODEL")
        if not base or not model:
            raise SliceLensError("the llm proposer needs an endpoint and a model: set "
                                 "SLICELENS_LLM_BASE_URL and SLICELENS_LLM_MODEL")
        element = self.p.element or task or "the objects in the images"
        body = {"model": model, "temperature": self.p.temperature,
                "messages": [{"role": "system", "content": SYSTEM},
                             {"role": "user", "content": QUESTION.format(element=element)}]}
        headers = {"Content-Type": "application/json"}
        key = os.environ.get("SLICELENS_LLM_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(base.rstrip("/") + "/chat/completions",
                                     data=json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.p.timeout) as resp:
                reply = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise SliceLensError(f"language model endpoint {base} answered HTTP {e.code}: "
                                 f"{e.read()[:200].decode(errors='replace')}") from None
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
            raise SliceLensError(f"cannot reach the language model at {base}: {e}") from None
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise SliceLensError(f"unexpected answer from {base}: no choices[0].message.content") from None
        attrs = _parse(content)
        if not attrs:
            raise SliceLensError(f"the language model named no attributes; it said: {content[:200]!r}")
        return AttributeSpec(attrs, source="llm", task=task)
