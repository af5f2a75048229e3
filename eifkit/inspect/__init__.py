"""Looking inside sections: kernels, ramdisks and the newc cpio format."""
