print("sardfq")
