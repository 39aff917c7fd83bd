"""This machine: CPU, memory, GPUs (NVML, Apple, sysfs/Vulkan), the llama.cpp build."""
