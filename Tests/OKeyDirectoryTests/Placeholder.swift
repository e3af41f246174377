// OKeyDirectoryTests
