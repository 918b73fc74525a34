"""PASCAL VOC's class names and boundary label, shared by detection and segmentation."""

IGNORE_LABEL = 255  # VOC's boundary label: pixels that neither the loss nor mean IU count


VOC_NAMES = (
    "aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike person "
    "pottedplant sheep sofa train tvmonitor"
).split()
