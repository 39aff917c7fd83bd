import pytest

from app.core.gguf.quant_types import bits_per_weight, quant_from_file_type, quant_from_name


@pytest.mark.parametrize(
    "name, quant",
    [
        ("Llama-3.2-3B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("llama-3.2-3b-instruct.Q4_K_M.gguf", "Q4_K_M"),
        ("qwen2.5-7b-instruct-q8_0-00001-of-00002.gguf", "Q8_0"),
        ("Model-IQ2_XXS.gguf", "IQ2_XXS"),
        ("Model-IQ2_XS.gguf", "IQ2_XS"),
        ("model-UD-Q2_K_XL.gguf", "Q2_K_XL"),  # an Unsloth dynamic mix
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
        ("Mistral-7B-v0.3-BF16.gguf", "BF16"),
        ("mmproj-model-f16.gguf", "F16"),
        ("README.md", None),
    ],
)
def test_quant_read_from_real_file_name_styles(name, quant):
    assert quant_from_name(name) == quant


def test_file_type_and_bits():
    assert quant_from_file_type(15) == "Q4_K_M"
    assert quant_from_file_type(3) == "Q4_1"
    assert quant_from_file_type(None) is None
    assert bits_per_weight("q8_0") == 8.5
    assert bits_per_weight("Q2_K") < bits_per_weight("Q4_K_M") < bits_per_weight("Q8_0")
