// OKeyDirectory
