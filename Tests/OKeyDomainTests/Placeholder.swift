// OKeyDomainTests
