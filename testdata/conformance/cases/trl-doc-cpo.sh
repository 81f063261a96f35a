accelerate launch examples/scripts/cpo.py \
    --model_name_or_path testdata/tokenizers/qwen2.5 \
    --dataset_name testdata/preferences/ultrafeedback_binarized_200.jsonl \
    --num_train_epochs 1 \
    --output_dir Qwen2-0.5B-CPO
