trl kto \
  --model_name_or_path testdata/tokenizers/qwen2.5 \
  --dataset_name testdata/preferences/ultrafeedback_binarized_200.jsonl
