# A dedicated vendor AID for drivervm; add this file to TARGET_FS_CONFIG_GEN.
# Vendor AIDs must lie in an OEM range (2900-2999 or 5000-5999) and must not collide
# with the device's other vendor AIDs: Qualcomm trees, for one, take 2901 upwards and
# 2950-2952. Check the device's config.fs files before shipping.
[AID_VENDOR_DRIVERVM]
value: 2987
