// OKeyDomain
