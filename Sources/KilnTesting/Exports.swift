// Tests reach the loopback receivers through KilnTesting, as before they moved out.
@_exported import KilnLoopback
