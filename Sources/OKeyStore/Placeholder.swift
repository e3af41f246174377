// OKeyStore
