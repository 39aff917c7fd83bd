; Inno Setup script: dist\hearth\ -> dist\Hearth-Setup-<variant>.exe (per-user install).
; Built by packaging\windows\build-windows.ps1, which passes /DVariant=cuda|vulkan|cpu.
#ifndef Variant
  #define Variant "vulkan"
#endif
[Setup]
AppName=Hearth
AppVersion=0.1.0
AppPublisher=Hearth
DefaultDirName={localappdata}\Programs\Hearth
DefaultGroupName=Hearth
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=Hearth-Setup-{#Variant}
SetupIconFile=..\..\build\icons\hearth.ico
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern

[Files]
Source: "..\..\dist\hearth\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\Hearth"; Filename: "{app}\hearth-studio.exe"
Name: "{userdesktop}\Hearth"; Filename: "{app}\hearth-studio.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\hearth-studio.exe"; Description: "Start Hearth"; Flags: nowait postinstall skipifsilent
