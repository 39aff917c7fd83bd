# Builds dist\hearth\ (hearth.exe) on Windows 10/11 x64, then the installer with Inno Setup.
#   .\packaging\windows\build-windows.ps1 -Variant cuda     (NVIDIA: CUDA Toolkit 12.x installed)
#   .\packaging\windows\build-windows.ps1 -Variant vulkan   (AMD / Intel / NVIDIA: Vulkan SDK)
#   .\packaging\windows\build-windows.ps1 -Variant cpu
# Needs: Python 3.11+ x64, Visual Studio 2022 Build Tools (C++), CMake, Inno Setup 6 (iscc).
param([ValidateSet("cuda", "vulkan", "cpu")] [string]$Variant = "vulkan")
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
if (-not (Test-Path .venv\Scripts\python.exe)) { py -3.11 -m venv .venv }
$flags = @{ cuda = "-DGGML_CUDA=on"; vulkan = "-DGGML_VULKAN=on"; cpu = "" }[$Variant]
$env:CMAKE_ARGS = $flags
.venv\Scripts\pip install --force-reinstall --no-cache-dir --no-deps "llama-cpp-python>=0.3.36,<0.4"
Remove-Item Env:CMAKE_ARGS
.venv\Scripts\pip install -e ".[packaging]"
New-Item -ItemType Directory -Force build | Out-Null
$env:HEARTH_HOME = "$PWD\build\starter-home"
.venv\Scripts\hearth setup
Remove-Item Env:HEARTH_HOME
.venv\Scripts\python packaging\make_icons.py build\icons        # writes hearth.ico
$env:HEARTH_STARTER = "$PWD\build\starter-home\data\models\starter\SmolLM2-135M-Instruct.Q4_1.gguf"
$env:HEARTH_ICON = "$PWD\build\icons\hearth.ico"
.venv\Scripts\pyinstaller --noconfirm --clean --distpath dist --workpath build\pyinstaller packaging\hearth.spec
# Check the bundle before packing it.
$env:HEARTH_HOME = (New-Item -ItemType Directory -Force "$env:TEMP\hearth-check").FullName
dist\hearth\hearth.exe --version
dist\hearth\hearth.exe --self-test
if ($LASTEXITCODE -ne 0) { throw "The bundle did not answer" }
iscc /DVariant=$Variant packaging\windows\hearth.iss
Write-Host "Installer: dist\Hearth-Setup-$Variant.exe"
