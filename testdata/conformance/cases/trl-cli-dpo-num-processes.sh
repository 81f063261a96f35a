trl dpo \
  --model_name_or_path testdata/tokenizers/qwen2.5 \
  --dataset_name testdata/preferences/hh_rlhf_harmless_200.jsonl \
  --num_processes 4
