# A dedicated vendor AID for drivervm; add this file to TARGET_FS_CONFIG_GEN.
# Vendor AIDs must lie in the OEM range (2900-2999 or 5000-5999); pick a value no other
# vendor AID of the device uses.
[AID_VENDOR_DRIVERVM]
value: 2950
