// OKeyStoreTests
