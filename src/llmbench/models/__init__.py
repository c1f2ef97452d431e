"""Models, as rules acquire_model, prepare_*, convert_*, describe_model and tokenize_prompts use them.

- :mod:`.acquire`, :mod:`.synthetic`, :mod:`.presets`, :mod:`.tokenizer`: synthetic presets,
  local folders, hub snapshots;
- :mod:`.checkpoint`  the one reader of checkpoint folders (safetensors or pytorch_model*.bin);
- :mod:`.prepare`, :mod:`.chatglm2`, :mod:`.shards`: the folder each kind of backend loads;
- :mod:`.flm_export`, :mod:`.gguf_export`: the FastLLM and llama.cpp conversions;
- :mod:`.weights`     parameter bytes and the bytes a batch-1 decode step reads;
- :mod:`.manifest`    every file of a folder with its hash;
- :mod:`.prompts`     queries and the token ids every backend receives.
"""
