/* A function to export, so the images are real DLLs of their architecture. */
__declspec(dllexport) int Answer(int x) { return x * 42; }
